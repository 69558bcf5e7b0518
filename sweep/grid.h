/*  grid.h — a sweep grid: the `name = value` lines of a byzgd-cluster configuration file,
    where a value may be a comma-separated list, expanded into the cartesian product of the
    lists times `seeds = 1,2,3`.

        # shared by every run
        workers = 20
        rounds = 500
        seeds = 1,2,3
        [average]          # optional sections: each is its own product with the lines above
        rule = average
        [multi-krum]
        rule = multi-krum
        byzantine = 9
        attack = omniscient
        f = 8
        batch = 3,20,83

    A section's lines replace the shared lines of the same name. Options whose value is
    itself a list (`hidden`, `misbehave`) take the whole value and are not swept. `seed`,
    `run-dir`, `resume`, `bin-dir` and `quiet` belong to the sweep and are refused. Every
    value and every combination is checked with the byzgd-cluster option table
    (cluster_config.h) when the grid is loaded, so a bad grid fails before any run starts.

    Each run gets an id made of its section and the parameters that vary across the grid,
    e.g. `multi-krum_batch-20_seed-2`; ids are unique and safe as directory names. */
#ifndef BYZGD_SWEEP_GRID_H
#define BYZGD_SWEEP_GRID_H

#include <stddef.h>

#define BYZGD_GRID_MAX_RUNS 100000

typedef struct {
    const char *name;  // option name (borrowed from the grid)
    const char *value; // one value (borrowed from the grid)
} byzgd_grid_setting_t;

typedef struct {
    const char *id;      // unique; [A-Za-z0-9.+-] fields joined by '_'
    const char *section; // "" without sections
    const char *seed;
    const byzgd_grid_setting_t *settings; // every option the run sets, seed excluded
    size_t setting_count;
} byzgd_grid_run_t;

typedef struct byzgd_grid_t byzgd_grid_t;

// Parses grid text[0..size) (`origin` names it in messages) and applies `overrides`
// ("name=value" strings, count of them; a value may be a list, `seeds` too), which replace
// that option everywhere in the grid. Expands and checks every run. Returns NULL with a
// message such as "fig4.grid:7: --rule: 'krun' ..." or "run average_seed-1: ...".
byzgd_grid_t *byzgd_grid_new(const char *text, size_t size, const char *origin,
                             const char *const *overrides, size_t override_count, char *error,
                             size_t error_size);
void byzgd_grid_destroy(byzgd_grid_t **self_p);

size_t byzgd_grid_run_count(const byzgd_grid_t *self);
const byzgd_grid_run_t *byzgd_grid_run(const byzgd_grid_t *self, size_t index);

// The columns of results.csv that precede the seed: "section" when the grid has sections,
// then every option whose value differs between runs, in order of first appearance.
size_t byzgd_grid_column_count(const byzgd_grid_t *self);
const char *byzgd_grid_column(const byzgd_grid_t *self, size_t index);

// The value of option `name` in `run` ("" when the run does not set it; the section for
// "section"; the seed for "seed").
const char *byzgd_grid_value(const byzgd_grid_run_t *run, const char *name);

// The run's configuration as `name = value` lines (seed included), malloc'ed.
char *byzgd_grid_format_run(const byzgd_grid_run_t *run);

#endif
