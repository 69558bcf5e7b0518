/*  gar_options.h — the rule options (rule, m, tau, iterations, tolerance, smoothing, start,
    bucket, nnm, clip) as one option section (support/options.h) that every program taking
    them embeds, and the parser of one option into a byzgd_gar_config_t.

    static const byzgd_option_section_t *const sections[] = {&own, &byzgd_gar_option_section,
                                                              NULL};
    // the section's state is a byzgd_gar_config_t * */
#ifndef BYZGD_GAR_OPTIONS_H
#define BYZGD_GAR_OPTIONS_H

#include "rules/gar_types.h"
#include "support/options.h"

// The rule options; their state is a byzgd_gar_config_t *.
extern const byzgd_option_section_t byzgd_gar_option_section;

// Sets one option from its command-line name (without "--") and text value: the options of
// byzgd_gar_option_section plus f, seed and round, which each program declares itself,
// checked and stored by their table rows as on the command line (nnm: NULL or "" is true).
// Returns 0, or -1 with a one-line message for an unknown name or a malformed value.
int byzgd_gar_config_parse_option(byzgd_gar_config_t *config, const char *name, const char *value,
                                  char *error, size_t error_size);

#endif
