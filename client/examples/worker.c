/*
 * worker.c: an example worker for libpulse-client.
 *
 *   worker [-s SOCKET] -p POOL [-n NAME]
 *
 * Attaches to POOL on the local pulsed, prints a line for every event it
 * gets and accepts it (a keyed message is answered with its payload). Ctrl-C (SIGINT) or SIGTERM detaches gracefully:
 * pulsed stops this worker's jobs (the stop handler runs for each) and
 * hands them to other workers; then it exits 0.
 *
 * Owns nothing beyond main(): it is the "how to write a worker" sample.
 * Invariant: the one static variable is the session the signal handler
 * stops, set before the handler is installed (a signal handler gets no
 * argument to find it otherwise).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <pulsed/pulse.h>

static pulse_worker *volatile running;

/* Only async-signal-safe work here: pulse_worker_stop is. */
static void on_signal(int sig)
{
	(void)sig;
	pulse_worker_stop(running);
}

/* A job starts: do its work in the background (here: just say so). An
 * error answer (PULSE_HANDLER_ERROR with a message in msg) makes the
 * dispatch fail with that message. */
static int on_start(void *ud, const char *key, const void *payload,
                    size_t len, char *msg, size_t msglen)
{
	(void)msg;
	(void)msglen;
	printf("worker %s: start %s payload '%.*s'\n", *(const char **)ud, key,
	       (int)len, (const char *)payload);
	return PULSE_HANDLER_OK;
}

static int on_stop(void *ud, const char *key, char *msg, size_t msglen)
{
	(void)msg;
	(void)msglen;
	printf("worker %s: stop %s\n", *(const char **)ud, key);
	return PULSE_HANDLER_OK;
}

static int on_notify(void *ud, const char *key, const void *payload,
                     size_t len, char *msg, size_t msglen)
{
	(void)msg;
	(void)msglen;
	printf("worker %s: notify %s '%.*s'\n", *(const char **)ud, key,
	       (int)len, (const char *)payload);
	return PULSE_HANDLER_OK;
}

/* A keyed message (pulse_send, pulsectl send): the worker placement
 * picked for the key answers it; no job is involved. The answer goes
 * back to the sender as it is (here: the payload, said back). */
static int on_message(void *ud, const char *key, const void *payload,
                      size_t len, pulse_answer *answer, char *msg,
                      size_t msglen)
{
	printf("worker %s: message %s '%.*s'\n", *(const char **)ud, key,
	       (int)len, (const char *)payload);
	if (pulse_answer_set(answer, payload, len) != 0) {
		snprintf(msg, msglen, "cannot answer %zu bytes", len);
		return PULSE_HANDLER_ERROR;
	}
	return PULSE_HANDLER_OK;
}

int main(int argc, char **argv)
{
	const char *socket = NULL, *pool = NULL, *name = NULL;
	int opt, bad = 0;
	while ((opt = getopt(argc, argv, "s:p:n:")) != -1) {
		switch (opt) {
		case 's': socket = optarg; break;
		case 'p': pool = optarg; break;
		case 'n': name = optarg; break;
		default: bad = 1; break;
		}
	}
	if (bad || !pool || optind != argc) {
		fprintf(stderr, "usage: worker [-s SOCKET] -p POOL [-n NAME]\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);

	/* The handlers print the worker id, known once attached. */
	const char *id = "?";
	const pulse_handlers handlers = {.start = on_start, .stop = on_stop,
	                                 .notify = on_notify,
	                                 .message = on_message};
	char err[256];
	int code;
	pulse_worker *w = pulse_worker_attach(socket, pool, name, &handlers, &id,
	                                      &code, err, sizeof(err));
	if (!w) {
		fprintf(stderr, "worker: attach to %s: %s: %s\n", pool,
		        pulse_strerror(code), err);
		return 1;
	}
	id = pulse_worker_id(w);
	printf("worker %s: attached to pool %s\n", id, pool);

	running = w;
	struct sigaction sa = {.sa_handler = on_signal};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	/* Runs the handlers until a signal calls pulse_worker_stop (0), or
	 * pulsed ends the session (an error code). */
	code = pulse_worker_run(w);
	if (code) {
		fprintf(stderr, "worker %s: %s: %s\n", id, pulse_strerror(code),
		        pulse_worker_errmsg(w));
		pulse_worker_close(w);
		return 1;
	}
	printf("worker %s: detaching\n", id);
	code = pulse_worker_detach(w); /* runs on_stop for each job, frees w */
	if (code) {
		fprintf(stderr, "worker: detach: %s\n", pulse_strerror(code));
		return 1;
	}
	printf("worker: detached\n");
	return 0;
}
