/* Files (fs.c): what the rest of the runtime needs from it. */
#ifndef WEFT_FS_H_
#define WEFT_FS_H_

/* Sizes libuv's thread pool for a runtime of `nworkers` workers, unless
 * the user set UV_THREADPOOL_SIZE: call it before the process's first fs
 * request (weft_runtime_new does). Only the first call in the process
 * acts; libuv reads the variable once, when it starts its pool. Any
 * thread. */
void weft__fs_pool_init(unsigned nworkers);

#endif /* WEFT_FS_H_ */
