/*
 * replay.c: a main() for the fuzz targets without libFuzzer, so that the
 * normal gcc build (and the ASan build) can run the seed corpora and the
 * regression inputs (`make fuzz-replay`, part of `make test`).
 *
 * Owns: reading each file named on the command line (a directory stands
 * for the files in it, in name order) and calling the target's
 * LLVMFuzzerTestOneInput once per file. A crash is the target's abort()
 * or a sanitizer report, as under libFuzzer; the exit status is 0 when
 * every input ran (an empty directory runs nothing and is fine).
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Inputs larger than this are not fuzz inputs (libFuzzer's default
 * -max_len is 4096; regression files stay far below this). */
#define REPLAY_MAX (16u << 20)

static int run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	uint8_t *buf = malloc(REPLAY_MAX);
	size_t n = buf ? fread(buf, 1, REPLAY_MAX, f) : 0;
	int bad = !buf || ferror(f) || !feof(f);
	fclose(f);
	if (bad) {
		fprintf(stderr, "replay: %s: unreadable or over %u bytes\n", path,
		        REPLAY_MAX);
		free(buf);
		return -1;
	}
	/* an exact-size copy, so that ASan sees reads past the input */
	uint8_t *in = malloc(n ? n : 1);
	if (!in) {
		free(buf);
		return -1;
	}
	memcpy(in, buf, n);
	free(buf);
	LLVMFuzzerTestOneInput(in, n);
	free(in);
	return 0;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

/* Run every regular file of a directory (not recursing; dot files such
 * as .keep and README* are skipped). Returns the count run, or -1. */
static int run_dir(const char *dir)
{
	struct dirent **ents;
	int n = scandir(dir, &ents, NULL, by_name), ran = 0, rc = 0;
	if (n < 0) {
		fprintf(stderr, "replay: %s: %s\n", dir, strerror(errno));
		return -1;
	}
	for (int i = 0; i < n; i++) {
		char path[4096];
		struct stat st;
		snprintf(path, sizeof(path), "%s/%s", dir, ents[i]->d_name);
		if (ents[i]->d_name[0] != '.' && stat(path, &st) == 0 &&
		    S_ISREG(st.st_mode) && strncmp(ents[i]->d_name, "README", 6) != 0) {
			if (run_file(path) < 0)
				rc = -1;
			else
				ran++;
		}
		free(ents[i]);
	}
	free(ents);
	return rc < 0 ? -1 : ran;
}

int main(int argc, char **argv)
{
	int total = 0;
	if (argc < 2) {
		fprintf(stderr, "usage: %s FILE|DIR...\n", argv[0]);
		return 2;
	}
	for (int i = 1; i < argc; i++) {
		struct stat st;
		int n;
		if (stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode))
			n = run_dir(argv[i]);
		else
			n = run_file(argv[i]) < 0 ? -1 : 1;
		if (n < 0)
			return 1;
		total += n;
	}
	printf("%s: %d inputs ran\n", argv[0], total);
	return 0;
}
