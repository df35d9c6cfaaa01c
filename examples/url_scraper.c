/* The guide's web scraper with a URL queue: three start URLs go into an
 * asyncio.Queue; three consumers take URLs, skip those already visited,
 * "fetch" the rest (a 5 ms sleep for the guide's one second) and queue the
 * links they find; main awaits queue.join(), then cancels the consumers.
 *
 * The guide leaves link extraction out; here the pages and their links are
 * a small fixed graph, so the set of visited pages is always the same. The
 * visited set is shared by the consumers, which may run on different
 * workers, so a weft_lock_t guards it (in asyncio one thread did). Output:
 * the visited pages sorted, and the counts. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <weft.h>

#define CONSUMERS 3
#define MAX_PAGES 16

/* The site: each page and the links found in its content. */
static const struct {
  const char* url;
  const char* links[4];
} SITE[] = {
    {"https://example.com/page1",
     {"https://example.com/about", "https://example.com/page2", NULL}},
    {"https://example.com/page2",
     {"https://example.com/page3", "https://example.com/blog", NULL}},
    {"https://example.com/page3", {"https://example.com/page1", NULL}},
    {"https://example.com/about",
     {"https://example.com/team", "https://example.com/contact", NULL}},
    {"https://example.com/blog",
     {"https://example.com/blog/post1", "https://example.com/blog/post2",
      NULL}},
    {"https://example.com/blog/post1",
     {"https://example.com/blog", "https://example.com/team", NULL}},
    {"https://example.com/blog/post2", {"https://example.com/blog", NULL}},
    {"https://example.com/team", {"https://example.com/about", NULL}},
    {"https://example.com/contact", {NULL}},
};
#define SITE_PAGES (sizeof(SITE) / sizeof(SITE[0]))

typedef struct {
  weft_queue_t* queue;
  weft_lock_t* lock; /* guards visited[] and nvisited */
  const char* visited[MAX_PAGES];
  int nvisited;
  int fetched[CONSUMERS]; /* pages each consumer fetched */
} scraper_t;

typedef struct {
  scraper_t* s;
  int id;
} consumer_t;

/* "Fetches" a page: a short sleep, then the links in its content. */
static int fetch_url(const char* url, const char* const** links) {
  int err = weft_sleep_ms(5);
  if (err != 0)
    return err;
  static const char* const none[] = {NULL};
  *links = none;
  for (size_t i = 0; i < SITE_PAGES; i++)
    if (strcmp(SITE[i].url, url) == 0)
      *links = SITE[i].links;
  return 0;
}

/* Adds url to the visited set; 1 if it was new. */
static int visit(scraper_t* s, const char* url) {
  int fresh = 1;
  if (weft_lock_acquire(s->lock) != 0)
    return 0;
  for (int i = 0; i < s->nvisited && fresh; i++)
    fresh = strcmp(s->visited[i], url) != 0;
  if (fresh && s->nvisited < MAX_PAGES)
    s->visited[s->nvisited++] = url;
  weft_lock_release(s->lock);
  return fresh;
}

static int was_visited(scraper_t* s, const char* url) {
  int seen = 0;
  if (weft_lock_acquire(s->lock) != 0)
    return 1;
  for (int i = 0; i < s->nvisited && !seen; i++)
    seen = strcmp(s->visited[i], url) == 0;
  weft_lock_release(s->lock);
  return seen;
}

/* Fetches url and queues the links it has that are not yet visited. */
static int scrape(consumer_t* c, const char* url) {
  const char* const* links;
  int err = fetch_url(url, &links);
  c->s->fetched[c->id]++;
  for (int i = 0; err == 0 && links[i] != NULL; i++)
    if (!was_visited(c->s, links[i]))
      err = weft_queue_put(c->s->queue, (void*)links[i], 0);
  return err;
}

/* Runs until cancelled: weft_queue_get then returns WEFT_ECANCELED. */
static int consumer(void* arg, void** result) {
  consumer_t* c = arg;
  void* url;
  int err;
  (void)result;
  while ((err = weft_queue_get(c->s->queue, &url)) == 0) {
    if (visit(c->s, url))
      err = scrape(c, url);
    weft_queue_task_done(c->s->queue);
    if (err != 0)
      break;
  }
  return err;
}

static int cmp_str(const void* a, const void* b) {
  return strcmp(*(const char* const*)a, *(const char* const*)b);
}

static void report(scraper_t* s) {
  int fetched = 0;
  qsort(s->visited, (size_t)s->nvisited, sizeof(s->visited[0]), cmp_str);
  for (int i = 0; i < s->nvisited; i++)
    printf("Visited: %s\n", s->visited[i]);
  for (int i = 0; i < CONSUMERS; i++)
    fetched += s->fetched[i];
  printf("Scraped %d unique URLs, fetched %d pages\n", s->nvisited, fetched);
}

static int run_consumers(scraper_t* s) {
  consumer_t roles[CONSUMERS];
  weft_task_t* tasks[CONSUMERS];
  int err = 0, n = 0;
  for (; n < CONSUMERS && err == 0; n++) {
    roles[n] = (consumer_t){s, n};
    err = weft_spawn(NULL, consumer, &roles[n], NULL, &tasks[n]);
  }
  if (err != 0)
    n--; /* the failed spawn made no task */
  if (err == 0)
    err = weft_queue_join(s->queue); /* every URL processed */
  for (int i = 0; i < n; i++) {
    weft_cancel(tasks[i]); /* consumer_task.cancel() */
    weft_await(tasks[i], NULL);
    weft_task_release(tasks[i]);
  }
  return err;
}

static int main_task(void* arg, void** result) {
  static const char* const start_urls[] = {"https://example.com/page1",
                                           "https://example.com/page2",
                                           "https://example.com/page3"};
  scraper_t s = {0};
  (void)arg;
  (void)result;
  int err = weft_queue_new(WEFT_QUEUE_FIFO, 0, &s.queue);
  if (err == 0)
    err = weft_lock_new(&s.lock);
  for (size_t i = 0; err == 0 && i < 3; i++) /* producer() */
    err = weft_queue_put(s.queue, (void*)start_urls[i], 0);
  if (err == 0)
    err = run_consumers(&s);
  if (err == 0)
    report(&s);
  weft_lock_free(s.lock);
  weft_queue_free(s.queue);
  return err;
}

int main(void) {
  weft_config_t cfg = {.workers = 2};
  int err = weft_run(main_task, NULL, &cfg, NULL);
  if (err != 0)
    fprintf(stderr, "url_scraper: %s\n", weft_strerror(err));
  return err != 0;
}
