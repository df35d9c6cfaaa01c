/* The guide's "Practical example with error handling and retries" (aiohttp
 * section): fetch several URLs concurrently; each fetch tries up to three
 * times with exponential backoff, treats 404 as final, reports other
 * statuses, timeouts and client errors, and gives up after the last try.
 *
 *   async def fetch_with_retry(session, url, max_retries=3):
 *       for attempt in range(max_retries):
 *           try:
 *               async with session.get(url, timeout=...) as response:
 *                   if response.status == 200: return await response.json()
 *                   elif response.status == 404: return None
 *           except asyncio.TimeoutError: ...
 *           except aiohttp.ClientError as e: ...
 *           if attempt < max_retries - 1:
 *               await asyncio.sleep(2 ** attempt)  # exponential backoff
 *
 * There is no network here, so the program starts its own weft HTTP server
 * on 127.0.0.1 (port 0: any free one) with paths that behave like the
 * guide's URLs and worse: /flaky answers 503 to its first two requests,
 * /missing is a 404, /slow answers after the per-request timeout, and one
 * URL points to a port nobody listens on (connection refused).
 *
 * Each fetch writes its log into its own buffer and main prints them in
 * URL order after weft_gather, so the output does not depend on which
 * fetch happened to run first. Backoff is 2 ** attempt times 10 ms (the
 * guide's seconds, scaled). */
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <weft.h>

#define MAX_RETRIES 3
#define TIMEOUT_MS 300   /* per request: the guide's ClientTimeout */
#define SLOW_MS 5000     /* /slow takes this long, far past the timeout */
#define FLAKY_FAILURES 2 /* /flaky answers 503 this many times first */
#define NURLS 5

/* ---- The local server ---------------------------------------------------- */

typedef struct {
  atomic_int flaky_hits; /* handlers run on any worker */
} site_t;

static int handler(const weft_http_request_t* req, weft_http_response_t* resp,
                   void* arg) {
  site_t* site = arg;
  const char* json = "application/json";
  if (strcmp(req->target, "/users/github") == 0)
    return weft_http_response_set(resp, 200, json, "{\"login\": \"github\"}",
                                  19);
  if (strcmp(req->target, "/flaky") == 0) {
    if (atomic_fetch_add(&site->flaky_hits, 1) < FLAKY_FAILURES)
      return weft_http_response_set(resp, 503, "text/plain", "busy", 4);
    return weft_http_response_set(resp, 200, json, "{\"flaky\": \"ok\"}", 15);
  }
  if (strcmp(req->target, "/slow") == 0) {
    /* The client gives up long before this; the server's task just sleeps
     * on (and is cancelled when the runtime shuts down). */
    int err = weft_sleep_ms(SLOW_MS);
    if (err != 0)
      return err;
    return weft_http_response_set(resp, 200, json, "{}", 2);
  }
  return weft_http_response_set(resp, 404, "text/plain", "not found", 9);
}

/* A port with nothing behind it: bind one, then close it. */
static int closed_port(unsigned* port) {
  weft_server_t* srv;
  int err = weft_http_serve("127.0.0.1", 0, handler, NULL, NULL, &srv);
  if (err != 0)
    return err;
  *port = weft_server_port(srv);
  return weft_server_close(srv);
}

/* ---- The client ---------------------------------------------------------- */

typedef struct {
  weft_http_client_t* client;
  char url[96];
  const char* label; /* what the output shows instead of the port */
  char log[512];     /* what the guide prints as it goes */
  size_t log_len;
  int ok; /* 1: got a 200 */
} fetch_t;

static void say(fetch_t* f, const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(f->log + f->log_len, sizeof(f->log) - f->log_len, fmt, ap);
  va_end(ap);
  if (n > 0 && f->log_len + (size_t)n < sizeof(f->log))
    f->log_len += (size_t)n;
}

/* One try. 1: done (200 or 404), 0: worth another try, < 0: cancelled. */
static int attempt_once(fetch_t* f, int attempt) {
  weft_http_response_t resp = {0};
  int err = weft_http_get(f->client, f->url, &resp);
  int done = 0;
  if (err == WEFT_ECANCELED)
    return err; /* our own cancellation: not the server's fault, stop */
  if (err == WEFT_ETIMEDOUT) {
    say(f, "  Timeout on attempt %d\n", attempt + 1);
  } else if (err != 0) {
    /* Connection refused, reset, ...: aiohttp.ClientError. */
    say(f, "  Client error on attempt %d: %s\n", attempt + 1,
        weft_strerror(err));
  } else if (resp.status == 200) {
    say(f, "  200 on attempt %d: %s\n", attempt + 1, resp.body);
    f->ok = done = 1;
  } else if (resp.status == 404) {
    say(f, "  URL not found\n");
    done = 1; /* retrying will not make it exist */
  } else {
    say(f, "  Unexpected status %d on attempt %d\n", resp.status, attempt + 1);
  }
  weft_http_response_free(&resp);
  return done;
}

static int fetch_with_retry(void* arg, void** result) {
  fetch_t* f = arg;
  (void)result;
  for (int attempt = 0; attempt < MAX_RETRIES; attempt++) {
    int r = attempt_once(f, attempt);
    if (r != 0)
      return r < 0 ? r : 0;
    if (attempt < MAX_RETRIES - 1) {
      int err = weft_sleep_ms(10u << attempt); /* exponential backoff */
      if (err != 0)
        return err;
    }
  }
  say(f, "  Failed after %d attempts\n", MAX_RETRIES);
  return 0; /* the guide returns None: a failed fetch is not an exception */
}

static int fetch_all(fetch_t* fetches, size_t n) {
  weft_task_t* tasks[NURLS];
  size_t spawned = 0;
  int err = 0;
  for (; spawned < n && err == 0; spawned++)
    err = weft_spawn(NULL, fetch_with_retry, &fetches[spawned], NULL,
                     &tasks[spawned]);
  if (err != 0)
    spawned--; /* the failed spawn made no task */
  /* asyncio.gather(*tasks): each task handles its own errors, so the
   * fail-fast gather only fails if one was cancelled. */
  int gerr = weft_gather(tasks, spawned, 0, NULL, NULL);
  for (size_t i = 0; i < spawned; i++)
    weft_task_release(tasks[i]);
  return err != 0 ? err : gerr;
}

static int run_client(unsigned port, unsigned dead_port) {
  static const char* const paths[NURLS - 1] = {"/users/github", "/flaky",
                                               "/missing", "/slow"};
  weft_http_client_config_t cfg = {.timeout_ms = TIMEOUT_MS};
  fetch_t fetches[NURLS];
  memset(fetches, 0, sizeof(fetches));
  int err = weft_http_client_new(&cfg, &fetches[0].client);
  if (err != 0)
    return err;
  for (size_t i = 0; i < NURLS; i++) {
    fetch_t* f = &fetches[i];
    f->client = fetches[0].client; /* one session for every fetch */
    f->label = i < NURLS - 1 ? paths[i] : "closed port /users/github";
    snprintf(f->url, sizeof(f->url), "http://127.0.0.1:%u%s",
             i < NURLS - 1 ? port : dead_port,
             i < NURLS - 1 ? paths[i] : "/users/github");
  }
  err = fetch_all(fetches, NURLS);
  int ok = 0;
  for (size_t i = 0; err == 0 && i < NURLS; i++) {
    printf("%s\n%s", fetches[i].label, fetches[i].log);
    ok += fetches[i].ok;
  }
  if (err == 0)
    printf("\nSuccessfully fetched %d/%d URLs\n", ok, NURLS);
  int ferr = weft_http_client_free(fetches[0].client);
  return err != 0 ? err : ferr;
}

/* Static: the /slow handlers outlive main_task (see below). */
static site_t site;

static int main_task(void* arg, void** result) {
  weft_server_t* srv;
  unsigned dead_port;
  (void)arg;
  (void)result;
  int err = closed_port(&dead_port);
  if (err != 0)
    return err;
  err = weft_http_serve("127.0.0.1", 0, handler, &site, NULL, &srv);
  if (err != 0)
    return err;
  err = run_client(weft_server_port(srv), dead_port);
  weft_server_close(srv);
  /* The /slow handlers still sleep: returning from main makes weft_run
   * cancel them (their sleep returns WEFT_ECANCELED) and wait for them. */
  return err;
}

int main(void) {
  weft_config_t cfg = {.workers = 2};
  int err = weft_run(main_task, NULL, &cfg, NULL);
  if (err != 0)
    fprintf(stderr, "fetch_retry: %s\n", weft_strerror(err));
  return err != 0;
}
