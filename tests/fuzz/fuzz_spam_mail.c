/*  fuzz_spam_mail.c — the strict JSON field extractor and the feature recipe on arbitrary
    bytes, as byzgd reads each SpamAssassin mail file. */
#include "learning/dataset.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = NULL;
    size_t text_size = 0;
    char error[256] = "";
    if (byzgd_spam_json_field(&text, &text_size, (const char *)data, size, "text", error,
                              sizeof error) != 0) {
        if (text || !error[0])
            abort();
        return 0;
    }
    // Decoded text is never longer than its source and is NUL-terminated.
    if (text_size > size || text[text_size] != 0)
        abort();
    enum { D = 64 };
    float features[D];
    byzgd_spam_features(features, text, text_size, D);
    double norm_sq = 0;
    for (int j = 0; j < D; j++) {
        if (!(features[j] >= 0) || !isfinite(features[j]))
            abort();
        norm_sq += (double)features[j] * features[j];
    }
    if (norm_sq != 0 && fabs(norm_sq - 1) > 1e-4)
        abort();
    free(text);
    return 0;
}
