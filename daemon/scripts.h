/*
 * scripts.h: the Lua scripts of daemon/lua/ (one .lua file each), built into the binary.
 *
 * The table is generated at build time (build/gen/scripts.c) from the .lua
 * files, one entry per file, named by the file's base name.
 */
#ifndef PULSED_SCRIPTS_H
#define PULSED_SCRIPTS_H

#include <stddef.h>

struct script_src {
	const char *name; /* "admit" for daemon/lua/admit.lua */
	const char *src;  /* NUL-terminated source */
	size_t len;
};

extern const struct script_src script_srcs[];
extern const size_t script_nsrcs;

#endif
