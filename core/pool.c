/* Worker threads for blocking handlers: a FIFO of jobs under one mutex. */
#include "pool-internal.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "log-internal.h"

struct job {
	pool_fn fn;
	void *arg;
	struct job *next;
};

struct pool {
	pthread_mutex_t lock;
	pthread_cond_t work;  /* a job arrived, or stopping */
	pthread_cond_t idle;  /* a worker finished a job */
	struct job *head, *tail;
	int nthreads, running, stopping;
	pthread_t *threads;
};

static void *worker(void *arg)
{
	struct pool *p = arg;
	pthread_mutex_lock(&p->lock);
	for (;;) {
		while (!p->head && !p->stopping)
			pthread_cond_wait(&p->work, &p->lock);
		if (p->stopping)
			break;
		struct job *j = p->head;
		p->head = j->next;
		if (!p->head)
			p->tail = NULL;
		p->running++;
		pthread_mutex_unlock(&p->lock);
		j->fn(j->arg);
		free(j);
		pthread_mutex_lock(&p->lock);
		p->running--;
		pthread_cond_broadcast(&p->idle);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

struct pool *pool_new(int threads)
{
	struct pool *p = calloc(1, sizeof *p);
	if (!p)
		return NULL;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->work, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&p->idle, &ca);
	pthread_condattr_destroy(&ca);
	p->threads = calloc((size_t)threads, sizeof *p->threads);
	if (!p->threads) {
		free(p);
		return NULL;
	}
	for (int i = 0; i < threads; i++) {
		if (pthread_create(&p->threads[i], NULL, worker, p) != 0) {
			log_error("pool: cannot start worker %d", i);
			break;
		}
		p->nthreads++;
	}
	return p;
}

int pool_submit(struct pool *p, pool_fn fn, void *arg)
{
	struct job *j = malloc(sizeof *j);
	if (!j)
		return -1;
	*j = (struct job){fn, arg, NULL};
	pthread_mutex_lock(&p->lock);
	if (p->stopping) {
		pthread_mutex_unlock(&p->lock);
		free(j);
		return -1;
	}
	if (p->tail)
		p->tail->next = j;
	else
		p->head = j;
	p->tail = j;
	pthread_cond_signal(&p->work);
	pthread_mutex_unlock(&p->lock);
	return 0;
}

int pool_busy(struct pool *p)
{
	pthread_mutex_lock(&p->lock);
	int n = p->running;
	for (struct job *j = p->head; j; j = j->next)
		n++;
	pthread_mutex_unlock(&p->lock);
	return n;
}

int pool_stop(struct pool *p, int timeout_ms, pool_fn drop)
{
	struct timespec deadline;
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += timeout_ms / 1000;
	deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
	if (deadline.tv_nsec >= 1000000000) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&p->lock);
	p->stopping = 1;
	struct job *j = p->head;
	p->head = p->tail = NULL;
	pthread_cond_broadcast(&p->work);
	while (p->running > 0 &&
	       pthread_cond_timedwait(&p->idle, &p->lock, &deadline) != ETIMEDOUT)
		;
	int stuck = p->running;
	pthread_mutex_unlock(&p->lock);

	while (j) {
		struct job *next = j->next;
		if (drop)
			drop(j->arg);
		free(j);
		j = next;
	}
	if (stuck) {
		/* The process is about to exit: let the stuck threads go
		 * rather than wait on them. */
		for (int i = 0; i < p->nthreads; i++)
			pthread_detach(p->threads[i]);
		return stuck;
	}
	for (int i = 0; i < p->nthreads; i++)
		pthread_join(p->threads[i], NULL);
	p->nthreads = 0;
	return 0;
}

void pool_free(struct pool *p)
{
	if (!p || p->nthreads)
		return; /* workers still inside plugin code: leak on purpose */
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->work);
	pthread_cond_destroy(&p->idle);
	free(p->threads);
	free(p);
}
