/*  gar_types.c — the rule name table and the configuration defaults. */
#include "gar_types.h"

#include <string.h>

static const char *const s_rule_names[] = {
    "average",      "krum",   "multi-krum", "medoid", "1-p-krum", "geomed", "median",
    "trimmed-mean", "meamed", "bulyan",     "mda",    "cclip",    NULL,
};

const char *const *
byzgd_gar_rule_names(void)
{
    return s_rule_names;
}

const char *
byzgd_gar_rule_name(byzgd_gar_rule_t rule)
{
    return rule < BYZGD_GAR_RULE_COUNT ? s_rule_names[rule] : "?";
}

int
byzgd_gar_rule_from_name(const char *name, byzgd_gar_rule_t *rule)
{
    for (size_t i = 0; i < BYZGD_GAR_RULE_COUNT; i++)
        if (strcmp(name, s_rule_names[i]) == 0) {
            *rule = (byzgd_gar_rule_t)i;
            return 0;
        }
    return -1;
}

void
byzgd_gar_config_init(byzgd_gar_config_t *config)
{
    memset(config, 0, sizeof *config);
    config->rule = BYZGD_GAR_AVERAGE;
    config->round = 1;
    config->tolerance = 1e-8;
    config->smoothing = 1e-6;
    config->tau = 10.0;
    config->start = BYZGD_GAR_START_MEDIAN;
}
