/*  fuzz_cluster_config.c — byzgd-cluster's `name = value` parser on arbitrary bytes. Beyond
    not crashing: whatever it accepts must pass through the effective-configuration writer
    and parse back to the same values. */
#include "cluster/cluster_config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    byzgd_cluster_config_t *config = byzgd_cluster_config_new();
    char error[512];
    if (byzgd_cluster_config_parse(config, (const char *)data, size, "fuzz", error, sizeof error) ==
        0) {
        byzgd_cluster_config_check(config, error, sizeof error);
        char *text = byzgd_cluster_config_format(config, NULL);
        byzgd_cluster_config_t *again = byzgd_cluster_config_new();
        if (byzgd_cluster_config_parse(again, text, strlen(text), "again", error, sizeof error) !=
            0)
            abort(); // the writer produced something the parser refuses
        const byzgd_option_section_t *const *sections = byzgd_cluster_sections();
        for (size_t s = 0; sections[s]; s++)
            for (size_t i = 0; i < sections[s]->count; i++) {
                const char *name = sections[s]->options[i].name;
                const char *a = byzgd_cluster_config_get(config, name);
                const char *b = byzgd_cluster_config_get(again, name);
                if ((a == NULL) != (b == NULL) || (a && strcmp(a, b) != 0))
                    abort(); // the round trip changed a value
            }
        byzgd_cluster_config_destroy(&again);
        free(text);
    }
    byzgd_cluster_config_destroy(&config);
    return 0;
}
