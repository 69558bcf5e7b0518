/*  gar_types.c — the rule name table (the configuration defaults are the option
    table's: gar_options.c). */
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
