/*  version.h — the project's version: one string for every program's --version, the man
    pages and `make install` (the Makefile reads it from here). */
#ifndef BYZGD_VERSION_H
#define BYZGD_VERSION_H

#define BYZGD_VERSION "0.1.0"

#endif
