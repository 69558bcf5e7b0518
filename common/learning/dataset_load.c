/*  dataset_load.c — byzgd_dataset_load() of dataset.h: picks the loader of a dataset by
    name. Apart from dataset.c so that the object and its loaders do not import each other
    (the loaders use dataset.c; this file uses the loaders). */
#include "dataset.h"
#include "dataset_private.h"
#include "support/log.h"

#include <string.h>

byzgd_dataset_t *
byzgd_dataset_load(const char *name, const byzgd_dataset_options_t *options, char *error,
                   size_t error_size)
{
    byzgd_dataset_options_t defaults = {0};
    if (!options)
        options = &defaults;
    if (options->split != BYZGD_SPLIT_TRAIN && options->split != BYZGD_SPLIT_TEST) {
        byzgd_set_error(error, error_size, "dataset split must be train or test");
        return NULL;
    }
    if (!name) {
        byzgd_set_error(error, error_size, "no dataset name given");
        return NULL;
    }
    if (strcmp(name, "fashion-mnist") == 0 || strcmp(name, "mnist") == 0)
        return byzgd_dataset_load_idx(name, options, error, error_size);
    if (strcmp(name, "spam") == 0)
        return byzgd_dataset_load_spam(options, error, error_size);
    if (strcmp(name, "synthetic") == 0)
        return byzgd_dataset_load_synthetic(options, error, error_size);
    byzgd_set_error(error, error_size,
                    "unknown dataset '%s' (expected fashion-mnist, mnist, spam or synthetic)",
                    name);
    return NULL;
}
