/* The guide's "Async API Data Pipeline": fetch the list of user ids, then
 * for each of the first ten users fetch the details and the posts at the
 * same time, and print what came back.
 *
 *   async def process_user(session, user_id):
 *       details, posts = await asyncio.gather(
 *           fetch_user_details(session, user_id),
 *           fetch_user_posts(session, user_id))
 *       return {"user": details, "posts": posts, "post_count": len(posts)}
 *
 *   user_ids = await fetch_user_ids(session)
 *   user_data = await asyncio.gather(
 *       *[process_user(session, uid) for uid in user_ids[:10]])
 *
 * The API is a weft HTTP server on 127.0.0.1 in the same program (port 0:
 * any free one) that builds small JSON bodies; the client picks the fields
 * it needs with strstr and sscanf instead of a JSON parser. Two levels of
 * weft_gather: main gathers the users, each user gathers its two requests,
 * so up to twenty requests are in flight on one shared client. gather
 * keeps input order, so the output is the same on every run. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <weft.h>

#define NUSERS 12 /* the API has twelve; the pipeline takes ten */
#define TAKE 10

static const char* const NAMES[NUSERS] = {"Ada",    "Barbara", "Claude",
                                          "Dennis", "Edsger",  "Frances",
                                          "Grace",  "Hedy",    "Ivan",
                                          "John",   "Ken",     "Leslie"};

/* ---- The local API ------------------------------------------------------- */

static int json(weft_http_response_t* resp, const char* body, int len) {
  return weft_http_response_set(resp, 200, "application/json", body,
                                (size_t)len);
}

/* User `id` has (id * 7) % 5 posts: a fixed, uneven spread. */
static int posts_of(int id) {
  return (id * 7) % 5;
}

static int handler(const weft_http_request_t* req, weft_http_response_t* resp,
                   void* arg) {
  char body[1024];
  int id, n = 0, end = 0;
  (void)arg;
  if (strcmp(req->target, "/users") == 0) {
    n = snprintf(body, sizeof(body), "{\"users\": [");
    for (id = 1; id <= NUSERS; id++)
      n += snprintf(body + n, sizeof(body) - (size_t)n, "%s{\"id\": %d}",
                    id > 1 ? ", " : "", id);
    n += snprintf(body + n, sizeof(body) - (size_t)n, "]}");
    return json(resp, body, n);
  }
  /* /users/<id> and /users/<id>/posts; %n tells where the id ended. */
  if (sscanf(req->target, "/users/%d%n", &id, &end) == 1 && id >= 1 &&
      id <= NUSERS) {
    const char* rest = req->target + end;
    if (*rest == '\0') {
      n = snprintf(body, sizeof(body), "{\"id\": %d, \"name\": \"%s\"}", id,
                   NAMES[id - 1]);
      return json(resp, body, n);
    }
    if (strcmp(rest, "/posts") == 0) {
      n = snprintf(body, sizeof(body), "[");
      for (int p = 1; p <= posts_of(id); p++)
        n += snprintf(body + n, sizeof(body) - (size_t)n,
                      "%s{\"id\": %d, \"title\": \"Post %d of user %d\"}",
                      p > 1 ? ", " : "", id * 100 + p, p, id);
      n += snprintf(body + n, sizeof(body) - (size_t)n, "]");
      return json(resp, body, n);
    }
  }
  return weft_http_response_set(resp, 404, "text/plain", "not found", 9);
}

/* ---- The pipeline -------------------------------------------------------- */

typedef struct {
  weft_http_client_t* session;
  unsigned port;
} api_t;

/* GET path; 0 with a 200 response in *resp, else an error (a non-200
 * status becomes WEFT_EPROTO, aiohttp's raise_for_status). */
static int get_json(api_t* api, const char* path, weft_http_response_t* resp) {
  char url[96];
  snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", api->port, path);
  int err = weft_http_get(api->session, url, resp);
  if (err == 0 && resp->status != 200)
    err = WEFT_EPROTO;
  if (err != 0)
    weft_http_response_free(resp);
  return err;
}

/* Counts the "id" fields of a JSON body, storing up to max of them. */
static int scan_ids(const char* body, int* ids, int max) {
  int n = 0;
  for (const char* p = body; (p = strstr(p, "\"id\": ")) != NULL; p += 6) {
    if (n < max && ids != NULL)
      ids[n] = atoi(p + 6);
    n++;
  }
  return n;
}

typedef struct {
  api_t* api;
  int id;
  char name[32];  /* from the details */
  int post_count; /* from the posts */
} user_t;

static int fetch_user_details(void* arg, void** result) {
  user_t* u = arg;
  weft_http_response_t resp = {0};
  char path[32];
  (void)result;
  snprintf(path, sizeof(path), "/users/%d", u->id);
  int err = get_json(u->api, path, &resp);
  if (err != 0)
    return err;
  const char* p = strstr(resp.body, "\"name\": \"");
  if (p == NULL || sscanf(p + 9, "%31[^\"]", u->name) != 1)
    err = WEFT_EPROTO;
  weft_http_response_free(&resp);
  return err;
}

static int fetch_user_posts(void* arg, void** result) {
  user_t* u = arg;
  weft_http_response_t resp = {0};
  char path[32];
  (void)result;
  snprintf(path, sizeof(path), "/users/%d/posts", u->id);
  int err = get_json(u->api, path, &resp);
  if (err != 0)
    return err;
  u->post_count = scan_ids(resp.body, NULL, 0); /* len(posts) */
  weft_http_response_free(&resp);
  return 0;
}

/* asyncio.gather(fns[0](args[0]), ...): spawns each and gathers them,
 * fail-fast (the first error cancels the rest and is returned, as gather
 * raises the first exception). */
static int gather_all(const weft_task_fn* fns, void* const* args, size_t n) {
  weft_task_t* tasks[TAKE] = {0};
  size_t spawned = 0;
  int err = 0;
  for (; spawned < n && err == 0; spawned++)
    err = weft_spawn(NULL, fns[spawned], args[spawned], NULL, &tasks[spawned]);
  if (err != 0)
    spawned--; /* the failed spawn made no task */
  int gerr = weft_gather(tasks, spawned, 0, NULL, NULL);
  for (size_t i = 0; i < spawned; i++)
    weft_task_release(tasks[i]);
  return err != 0 ? err : gerr;
}

/* Both requests at once; each fills its own fields of the user. */
static int process_user(void* arg, void** result) {
  static const weft_task_fn fns[2] = {fetch_user_details, fetch_user_posts};
  void* const args[2] = {arg, arg};
  (void)result;
  return gather_all(fns, args, 2);
}

static int fetch_user_ids(api_t* api, int* ids, int max, int* n) {
  weft_http_response_t resp = {0};
  int err = get_json(api, "/users", &resp);
  if (err != 0)
    return err;
  *n = scan_ids(resp.body, ids, max);
  weft_http_response_free(&resp);
  return 0;
}

static int pipeline(api_t* api) {
  int ids[NUSERS], n = 0;
  user_t users[TAKE];
  weft_task_fn fns[TAKE] = {0};
  void* args[TAKE] = {0};
  int err = fetch_user_ids(api, ids, NUSERS, &n);
  if (err != 0)
    return err;
  printf("API lists %d users; processing the first %d\n", n, TAKE);
  size_t take = n < TAKE ? (size_t)n : TAKE; /* user_ids[:10] */
  for (size_t i = 0; i < take; i++) {
    users[i] = (user_t){.api = api, .id = ids[i]};
    fns[i] = process_user;
    args[i] = &users[i];
  }
  err = gather_all(fns, args, take);
  int total = 0;
  for (size_t i = 0; err == 0 && i < take; i++) {
    printf("User %s: %d post%s\n", users[i].name, users[i].post_count,
           users[i].post_count == 1 ? "" : "s");
    total += users[i].post_count;
  }
  if (err == 0)
    printf("Total: %d posts from %zu users\n", total, take);
  return err;
}

static int main_task(void* arg, void** result) {
  api_t api = {0};
  weft_server_t* srv = NULL;
  (void)arg;
  (void)result;
  int err = weft_http_serve("127.0.0.1", 0, handler, NULL, NULL, &srv);
  if (err == 0)
    err = weft_http_client_new(NULL, &api.session); /* ClientSession() */
  if (err == 0) {
    api.port = weft_server_port(srv);
    err = pipeline(&api);
  }
  weft_http_client_free(api.session);
  weft_server_close(srv);
  return err;
}

int main(void) {
  weft_config_t cfg = {.workers = 2};
  int err = weft_run(main_task, NULL, &cfg, NULL);
  if (err != 0)
    fprintf(stderr, "api_pipeline: %s\n", weft_strerror(err));
  return err != 0;
}
