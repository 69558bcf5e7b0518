/*  test_sweep_grid.c — sweep grids: the cartesian product with seeds, sections, overrides,
    run ids and columns, and every kind of grid refused before a run starts. */
#include "sweep/grid.h"
#include "test.h"

#include <stdio.h>
#include <string.h>

static byzgd_grid_t *
s_grid(const char *text, const char *const *overrides, size_t override_count, char *error,
       size_t error_size)
{
    return byzgd_grid_new(text, strlen(text), "test.grid", overrides, override_count, error,
                          error_size);
}

TEST(product_of_lists_and_seeds)
{
    char error[512] = "";
    byzgd_grid_t *grid = s_grid("workers = 7\nbyzantine = 1\n# comment\n\n"
                                "rule = average, krum\nattack = gaussian,signflip\nseeds = 1,2\n",
                                NULL, 0, error, sizeof error);
    ASSERT_MSG(grid, "%s", error);
    ASSERT_EQ_INT(byzgd_grid_run_count(grid), 8);
    ASSERT_EQ_INT(byzgd_grid_column_count(grid), 2);
    ASSERT_STR_EQ(byzgd_grid_column(grid, 0), "rule");
    ASSERT_STR_EQ(byzgd_grid_column(grid, 1), "attack");
    const byzgd_grid_run_t *first = byzgd_grid_run(grid, 0), *last = byzgd_grid_run(grid, 7);
    ASSERT_STR_EQ(first->id, "rule-average_attack-gaussian_seed-1");
    ASSERT_STR_EQ(byzgd_grid_run(grid, 1)->id, "rule-average_attack-gaussian_seed-2");
    ASSERT_STR_EQ(last->id, "rule-krum_attack-signflip_seed-2");
    ASSERT_STR_EQ(byzgd_grid_value(last, "workers"), "7");
    ASSERT_STR_EQ(byzgd_grid_value(last, "seed"), "2");
    ASSERT_STR_EQ(byzgd_grid_value(last, "section"), "");
    ASSERT_STR_EQ(byzgd_grid_value(last, "batch"), "");
    char *config = byzgd_grid_format_run(last);
    ASSERT_STR_EQ(config, "workers = 7\nbyzantine = 1\nrule = krum\nattack = signflip\nseed = 2\n");
    free(config);
    byzgd_grid_destroy(&grid);
    ASSERT(!grid);
}

TEST(sections_pair_settings_that_are_no_product)
{
    // The paper's Figure 2: averaging without attackers against Multi-Krum facing nine.
    char error[512] = "";
    byzgd_grid_t *grid = s_grid("workers = 20\nbatch = 3,20\nrule = average\n"
                                "[average]\n"
                                "[multi-krum]\nrule = multi-krum\nbyzantine = 9\n"
                                "attack = omniscient\nf = 8\nseeds = 1,2\n",
                                NULL, 0, error, sizeof error);
    ASSERT_MSG(grid, "%s", error);
    ASSERT_EQ_INT(byzgd_grid_run_count(grid), 2 + 4);
    ASSERT_STR_EQ(byzgd_grid_column(grid, 0), "section");
    ASSERT_STR_EQ(byzgd_grid_column(grid, 1), "batch");
    ASSERT_STR_EQ(byzgd_grid_column(grid, 2), "rule");
    ASSERT_STR_EQ(byzgd_grid_run(grid, 0)->id, "average_batch-3_rule-average_seed-1");
    const byzgd_grid_run_t *run = byzgd_grid_run(grid, 5);
    ASSERT_STR_EQ(run->id,
                  "multi-krum_batch-20_rule-multi-krum_byzantine-9_attack-omniscient_f-8_seed-2");
    ASSERT_STR_EQ(byzgd_grid_value(run, "rule"), "multi-krum");
    ASSERT_STR_EQ(byzgd_grid_value(run, "section"), "multi-krum");
    byzgd_grid_destroy(&grid);
}

TEST(overrides_replace_an_option_everywhere)
{
    char error[512] = "";
    const char *overrides[] = {"rounds=5", "seeds=3", "rule=krum,median"};
    byzgd_grid_t *grid = s_grid("workers = 7\nrounds = 500\nseeds = 1,2,3\n[a]\nrule = average\n"
                                "[b]\nrule = medoid\nbatch = 4\n",
                                overrides, 3, error, sizeof error);
    ASSERT_MSG(grid, "%s", error);
    ASSERT_EQ_INT(byzgd_grid_run_count(grid), 4);
    for (size_t r = 0; r < 4; r++) {
        ASSERT_STR_EQ(byzgd_grid_value(byzgd_grid_run(grid, r), "rounds"), "5");
        ASSERT_STR_EQ(byzgd_grid_run(grid, r)->seed, "3");
    }
    ASSERT_STR_EQ(byzgd_grid_value(byzgd_grid_run(grid, 3), "rule"), "median");
    ASSERT_STR_EQ(byzgd_grid_value(byzgd_grid_run(grid, 3), "batch"), "4");
    byzgd_grid_destroy(&grid);
}

TEST(list_options_are_not_swept)
{
    char error[512] = "";
    byzgd_grid_t *grid =
        s_grid("hidden = 32,16\nrule = average,median\n", NULL, 0, error, sizeof error);
    ASSERT_MSG(grid, "%s", error);
    ASSERT_EQ_INT(byzgd_grid_run_count(grid), 2);
    ASSERT_STR_EQ(byzgd_grid_value(byzgd_grid_run(grid, 0), "hidden"), "32,16");
    byzgd_grid_destroy(&grid);
}

TEST(bad_grids_are_refused_with_their_line)
{
    static const struct {
        const char *text, *message;
    } cases[] = {
        {"wokers = 3\n", "test.grid:1: unknown option 'wokers'"},
        {"rule = average\nrule = krum\n", "test.grid:2: 'rule' given twice"},
        {"seed = 4\n", "'seed' is set by the sweep (use 'seeds = 1,2,3')"},
        {"run-dir = x\n", "'run-dir' is set by the sweep"},
        {"rule = average,,krum\n", "empty item"},
        {"rule = krum,krum\n", "'krum' listed twice"},
        {"batch = 4,x\n", "--batch: 'x' is not an integer"},
        {"seeds = 1,-2\n", "--seed"},
        {"just words\n", "expected 'name = value'"},
        {"[Bad Name]\n", "section name"},
        {"[a]\n[a]\n", "section [a] twice"},
        {"rule = krun\n", "unknown rule 'krun'"},
        {"workers = 5\nbyzantine = 2\nattack = gaussian\nrule = average,krum\n",
         "run rule-krum_seed-1: krum needs n > 2f+2"},
        {"byzantine = 2\n", "needs --attack"},
        {"data-dir = /a/b, /a+b\n", "share the id 'data-dir-+a+b_seed-1'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char error[512] = "";
        byzgd_grid_t *grid = s_grid(cases[i].text, NULL, 0, error, sizeof error);
        ASSERT_MSG(!grid, "accepted: %s", cases[i].text);
        ASSERT_STR_CONTAINS(error, cases[i].message);
    }
    char error[512] = "";
    const char *bad_override[] = {"rounds"};
    ASSERT(!s_grid("rule = average\n", bad_override, 1, error, sizeof error));
    ASSERT_STR_CONTAINS(error, "--set rounds: expected NAME=VALUE");
}

// The committed experiment grids (make figures) stay valid, with the runs they promise.
TEST(experiment_grids_are_valid)
{
    static const struct {
        const char *path;
        size_t runs;
    } grids[] = {
        {"experiments/fig2-3.grid", 4 * 3 * 3}, // averaging, Multi-Krum, two colluder sections
        {"experiments/fig4.grid", 5 * 3},
        {"experiments/fig5.grid", 5 * 3},
        {"experiments/attacks.grid", 8 * 5 * 3},
    };
    for (size_t i = 0; i < sizeof grids / sizeof grids[0]; i++) {
        FILE *file = fopen(grids[i].path, "r");
        ASSERT_MSG(file, "%s: run the tests from the repository root", grids[i].path);
        static char text[65536];
        size_t size = fread(text, 1, sizeof text, file);
        fclose(file);
        char error[512] = "";
        byzgd_grid_t *grid =
            byzgd_grid_new(text, size, grids[i].path, NULL, 0, error, sizeof error);
        ASSERT_MSG(grid, "%s", error);
        ASSERT_EQ_INT(byzgd_grid_run_count(grid), grids[i].runs);
        byzgd_grid_destroy(&grid);
    }
}

static const byzgd_test_case_t cases[] = {
    TEST_CASE(product_of_lists_and_seeds),
    TEST_CASE(sections_pair_settings_that_are_no_product),
    TEST_CASE(overrides_replace_an_option_everywhere),
    TEST_CASE(list_options_are_not_swept),
    TEST_CASE(bad_grids_are_refused_with_their_line),
    TEST_CASE(experiment_grids_are_valid),
};
BYZGD_TEST_MAIN(cases)
