/*
 * dispatch.c: an example client for libpulse-client.
 *
 *   dispatch [-s SOCKET] -p POOL KEY [PAYLOAD]
 *
 * Dispatches job KEY with PAYLOAD (empty if none) to POOL and prints the
 * result. pulse_dispatch returns once the worker that owns the key has
 * answered its start handler, so success means "the job is running".
 * Exits 0 on success, 1 on failure (the reason on stderr), 2 on bad usage.
 *
 * Owns nothing beyond main(); no state outside it.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <pulsed/pulse.h>

int main(int argc, char **argv)
{
	const char *socket = NULL, *pool = NULL;
	int opt, bad = 0;
	while ((opt = getopt(argc, argv, "s:p:")) != -1) {
		switch (opt) {
		case 's': socket = optarg; break;
		case 'p': pool = optarg; break;
		default: bad = 1; break;
		}
	}
	int nargs = argc - optind;
	if (bad || !pool || nargs < 1 || nargs > 2) {
		fprintf(stderr, "usage: dispatch [-s SOCKET] -p POOL KEY [PAYLOAD]\n");
		return 2;
	}
	const char *key = argv[optind];
	const char *payload = nargs == 2 ? argv[optind + 1] : "";

	char err[256];
	int code;
	pulse_client *c = pulse_connect(socket, &code, err, sizeof(err));
	if (!c) {
		fprintf(stderr, "dispatch: %s: %s\n", pulse_strerror(code), err);
		return 1;
	}
	code = pulse_dispatch(c, pool, key, payload, strlen(payload));
	if (code)
		fprintf(stderr, "dispatch %s/%s: %s: %s\n", pool, key,
		        pulse_strerror(code), pulse_errmsg(c));
	else
		printf("dispatched %s to pool %s: started\n", key, pool);
	pulse_close(c);
	return code ? 1 : 0;
}
