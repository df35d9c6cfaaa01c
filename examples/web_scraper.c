/* The guide's "Web Scraping with Rate Limiting": an AsyncWebScraper whose
 * fetch_page holds an asyncio.Semaphore(max_concurrent) around each GET,
 * and scrape_urls gathers one fetch per URL.
 *
 *   async def fetch_page(self, url):
 *       async with self.semaphore:
 *           try:
 *               async with self.session.get(url) as response:
 *                   return await response.text()
 *           except Exception as e:
 *               print(f"Error fetching {url}: {e}")
 *               return None
 *
 * The pages come from a weft HTTP server on 127.0.0.1 in the same program
 * (port 0: any free one): small HTML pages with a <title> and links, and
 * one URL that is a 404. The scraper pulls the title and the links out of
 * each page (the guide's BeautifulSoup, here strstr) and prints the pages
 * sorted by path, then every distinct link found.
 *
 * Each fetch counts how many fetches hold a permit at once. The semaphore
 * makes that at most MAX_CONCURRENT; to show it reaches exactly that, the
 * server holds each request at a barrier of MAX_CONCURRENT parties, so
 * every wave of fetches meets there before any is answered. That cannot
 * deadlock: a fetch keeps its permit while it waits, so MAX_CONCURRENT
 * requests always reach the server, and NURLS is a multiple of
 * MAX_CONCURRENT, so the last wave is full too. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <weft.h>

#define MAX_CONCURRENT 3
#define NURLS 9
#define MAX_LINKS 32

/* ---- The local site ------------------------------------------------------ */

static const struct {
  const char* path;
  const char* title;
  const char* links[4];
} SITE[] = {
    {"/", "Home", {"/about", "/blog", "/products"}},
    {"/about", "About us", {"/", "/team"}},
    {"/team", "Our team", {"/about"}},
    {"/blog", "Blog", {"/blog/async", "/blog/semaphores"}},
    {"/blog/async", "Going async", {"/blog", "/blog/semaphores"}},
    {"/blog/semaphores", "Semaphores", {"/blog"}},
    {"/products", "Products", {"/products/weft", "/contact"}},
    {"/products/weft", "weft", {"/products"}},
};
#define SITE_PAGES (sizeof(SITE) / sizeof(SITE[0]))

/* Renders a page as HTML into buf. */
static int render(size_t page, char* buf, size_t cap) {
  int n = snprintf(buf, cap, "<html><head><title>%s</title></head><body>",
                   SITE[page].title);
  for (size_t i = 0; i < 4 && SITE[page].links[i] != NULL; i++)
    n += snprintf(buf + n, cap - (size_t)n, "<a href=\"%s\">%s</a> ",
                  SITE[page].links[i], SITE[page].links[i]);
  n += snprintf(buf + n, cap - (size_t)n, "</body></html>");
  return n;
}

static int handler(const weft_http_request_t* req, weft_http_response_t* resp,
                   void* arg) {
  weft_barrier_t* wave = arg;
  weft_timeout_t* guard;
  char html[512];
  /* Wait for the rest of this wave of fetches (see the top). The timeout
   * only turns a bug into a failed run instead of a hung one. */
  int err = weft_timeout_enter(10000, &guard);
  if (err != 0)
    return err;
  err = weft_barrier_wait(wave, NULL);
  int terr = weft_timeout_exit(guard);
  if (err != 0 || terr != 0)
    return err != 0 ? err : terr;
  for (size_t i = 0; i < SITE_PAGES; i++)
    if (strcmp(req->target, SITE[i].path) == 0)
      return weft_http_response_set(resp, 200, "text/html", html,
                                    (size_t)render(i, html, sizeof(html)));
  return weft_http_response_set(resp, 404, "text/plain", "not found", 9);
}

/* ---- The scraper --------------------------------------------------------- */

typedef struct {
  weft_http_client_t* session;
  weft_sem_t* semaphore;
  unsigned port;
  atomic_int running; /* fetches holding a permit: tasks on any worker */
  atomic_int most;    /* the most that ever held one at once */
} scraper_t;

typedef struct {
  scraper_t* s;
  const char* path;
  char title[64];
  const char* links[MAX_LINKS]; /* into html */
  int nlinks;
  weft_http_response_t page; /* html in page.body, NULL on error */
  char error[64];
} fetch_t;

static void note_running(scraper_t* s) {
  int now = atomic_fetch_add(&s->running, 1) + 1;
  int most = atomic_load(&s->most);
  while (now > most && !atomic_compare_exchange_weak(&s->most, &most, now)) {
  }
}

/* The <title> text and every href="..." value (cut out in place). */
static void parse(fetch_t* f) {
  char* html = f->page.body;
  char* t = strstr(html, "<title>");
  char* end = t != NULL ? strstr(t, "</title>") : NULL;
  if (t != NULL && end != NULL)
    snprintf(f->title, sizeof(f->title), "%.*s", (int)(end - t - 7), t + 7);
  for (char* p = html; (p = strstr(p, "href=\"")) != NULL;) {
    p += 6;
    char* q = strchr(p, '"');
    if (q == NULL || f->nlinks == MAX_LINKS)
      break;
    *q = '\0';
    f->links[f->nlinks++] = p;
    p = q + 1;
  }
}

static int fetch_page(void* arg, void** result) {
  fetch_t* f = arg;
  scraper_t* s = f->s;
  char url[96];
  (void)result;
  int err = weft_sem_acquire(s->semaphore); /* async with self.semaphore */
  if (err != 0)
    return err;
  note_running(s);
  snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", s->port, f->path);
  err = weft_http_get(s->session, url, &f->page);
  if (err == 0 && f->page.status != 200)
    snprintf(f->error, sizeof(f->error), "status %d", f->page.status);
  else if (err != 0 && err != WEFT_ECANCELED)
    snprintf(f->error, sizeof(f->error), "%s", weft_strerror(err));
  atomic_fetch_sub(&s->running, 1);
  weft_sem_release(s->semaphore); /* on every path out of the block */
  if (err == WEFT_ECANCELED)
    return err;
  if (f->error[0] == '\0')
    parse(f);
  return 0; /* errors are reported, not raised (the guide's except) */
}

/* return await asyncio.gather(*tasks) */
static int scrape_urls(fetch_t* fetches, size_t n) {
  weft_task_t* tasks[NURLS];
  size_t spawned = 0;
  int err = 0;
  for (; spawned < n && err == 0; spawned++)
    err =
        weft_spawn(NULL, fetch_page, &fetches[spawned], NULL, &tasks[spawned]);
  if (err != 0)
    spawned--; /* the failed spawn made no task */
  int gerr = weft_gather(tasks, spawned, 0, NULL, NULL);
  for (size_t i = 0; i < spawned; i++)
    weft_task_release(tasks[i]);
  return err != 0 ? err : gerr;
}

/* ---- Output -------------------------------------------------------------- */

static int cmp_fetch(const void* a, const void* b) {
  return strcmp(((const fetch_t*)a)->path, ((const fetch_t*)b)->path);
}

static int cmp_str(const void* a, const void* b) {
  return strcmp(*(const char* const*)a, *(const char* const*)b);
}

static void report(scraper_t* s, fetch_t* fetches, size_t n) {
  const char* all[NURLS * MAX_LINKS];
  size_t nall = 0;
  qsort(fetches, n, sizeof(*fetches), cmp_fetch);
  for (size_t i = 0; i < n; i++) {
    fetch_t* f = &fetches[i];
    if (f->error[0] != '\0') {
      printf("Error fetching %s: %s\n", f->path, f->error);
      continue;
    }
    printf("Scraped %s: %zu bytes, \"%s\", %d link%s\n", f->path,
           f->page.body_len, f->title, f->nlinks, f->nlinks == 1 ? "" : "s");
    for (int j = 0; j < f->nlinks; j++)
      all[nall++] = f->links[j];
  }
  qsort(all, nall, sizeof(all[0]), cmp_str);
  printf("Links found:");
  for (size_t i = 0; i < nall; i++)
    if (i == 0 || strcmp(all[i], all[i - 1]) != 0)
      printf(" %s", all[i]);
  printf("\nMost fetches at once: %d (semaphore: %d)\n", atomic_load(&s->most),
         MAX_CONCURRENT);
}

static int scrape(scraper_t* s) {
  /* In no particular order; the report sorts them. */
  static const char* const urls[NURLS] = {"/blog",           "/",
                                          "/products/weft",  "/about",
                                          "/blog/async",     "/missing",
                                          "/team",           "/products",
                                          "/blog/semaphores"};
  fetch_t fetches[NURLS];
  memset(fetches, 0, sizeof(fetches));
  for (size_t i = 0; i < NURLS; i++) {
    fetches[i].s = s;
    fetches[i].path = urls[i];
  }
  int err = scrape_urls(fetches, NURLS);
  if (err == 0)
    report(s, fetches, NURLS);
  for (size_t i = 0; i < NURLS; i++)
    weft_http_response_free(&fetches[i].page);
  return err;
}

static int main_task(void* arg, void** result) {
  scraper_t s = {0};
  weft_barrier_t* wave = NULL;
  weft_server_t* srv = NULL;
  (void)arg;
  (void)result;
  int err = weft_barrier_new(MAX_CONCURRENT, &wave);
  if (err == 0)
    err = weft_http_serve("127.0.0.1", 0, handler, wave, NULL, &srv);
  if (err == 0)
    err = weft_sem_new(MAX_CONCURRENT, 0, &s.semaphore);
  if (err == 0) /* __aenter__: the session */
    err = weft_http_client_new(NULL, &s.session);
  if (err == 0) {
    s.port = weft_server_port(srv);
    err = scrape(&s);
  }
  weft_http_client_free(s.session); /* __aexit__ */
  weft_sem_free(s.semaphore);
  weft_server_close(srv);
  /* Freeing the client closed its keep-alive connections, so the server's
   * connection tasks have ended or are about to; none waits at the barrier
   * any more (every wave was full), so it can go. */
  weft_barrier_free(wave);
  return err;
}

int main(void) {
  weft_config_t cfg = {.workers = 2};
  int err = weft_run(main_task, NULL, &cfg, NULL);
  if (err != 0)
    fprintf(stderr, "web_scraper: %s\n", weft_strerror(err));
  return err != 0;
}
