/*  fuzz_sweep_grid.c — byzgd-sweep's grid parser on arbitrary bytes. Beyond not crashing:
    every run of an accepted grid must be a configuration byzgd-cluster itself accepts, and
    run ids must be unique directory names. */
#include "cluster/cluster_config.h"
#include "sweep/grid.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char error[512];
    byzgd_grid_t *grid =
        byzgd_grid_new((const char *)data, size, "fuzz", NULL, 0, error, sizeof error);
    if (!grid)
        return 0;
    size_t count = byzgd_grid_run_count(grid);
    for (size_t r = 0; r < count && r < 256; r++) {
        const byzgd_grid_run_t *run = byzgd_grid_run(grid, r);
        if (!run->id[0] || strchr(run->id, '/') || strcmp(run->id, ".") == 0 ||
            strcmp(run->id, "..") == 0)
            abort(); // not a safe directory name
        char *text = byzgd_grid_format_run(run);
        byzgd_cluster_config_t *config = byzgd_cluster_config_new();
        if (byzgd_cluster_config_parse(config, text, strlen(text), "run", error, sizeof error) !=
                0 ||
            byzgd_cluster_config_check(config, error, sizeof error) != 0)
            abort(); // the grid accepted a run byzgd-cluster refuses
        byzgd_cluster_config_destroy(&config);
        free(text);
    }
    byzgd_grid_destroy(&grid);
    return 0;
}
