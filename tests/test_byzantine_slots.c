/*  test_byzantine_slots.c — the launcher's record of the roles and the selected_byzantine
    annotation of metrics lines. */
#include "test.h"

#include "cluster/byzantine_slots.h"

TEST(assign_write_read)
{
    bool roles[7], back[7];
    byzgd_byzantine_slots_assign(roles, 7, 2);
    for (size_t slot = 0; slot < 7; slot++)
        ASSERT_EQ_INT(roles[slot], slot >= 5);
    char error[512];
    const char *dir = byzgd_test_tmpdir();
    ASSERT_EQ_INT(byzgd_byzantine_slots_write(dir, roles, 7, error, sizeof error), 0);
    ASSERT_EQ_INT(byzgd_byzantine_slots_read(dir, back, 7, error, sizeof error), 0);
    ASSERT(memcmp(roles, back, sizeof roles) == 0);
    // A slot beyond n is an error, not silently ignored.
    ASSERT_EQ_INT(byzgd_byzantine_slots_read(dir, back, 6, error, sizeof error), -1);
    ASSERT_STR_CONTAINS(error, "bad line");
    size_t selected[] = {6, 0, 5, 1};
    ASSERT_EQ_INT(byzgd_byzantine_slots_count(selected, 4, roles, 7), 2);
}

TEST(annotate_adds_the_count_after_selected)
{
    char path[1024], error[512];
    snprintf(path, sizeof path, "%s/metrics.jsonl", byzgd_test_tmpdir());
    FILE *file = fopen(path, "w");
    ASSERT(file);
    fputs("{\"round\":1,\"selected\":[6,0,5],\"train_loss\":1}\n"
          "{\"round\":2,\"train_loss\":1}\n"
          "{\"round\":3,\"selected\":[1],\"selected_byzantine\":0}\n"
          "{\"round\":4,\"selected\":[]}\n",
          file);
    fclose(file);
    bool roles[7];
    byzgd_byzantine_slots_assign(roles, 7, 2);
    ASSERT_EQ_INT(byzgd_byzantine_slots_annotate(path, roles, 7, error, sizeof error), 2);
    file = fopen(path, "r");
    ASSERT(file);
    char text[1024] = "";
    size_t size = fread(text, 1, sizeof text - 1, file);
    fclose(file);
    text[size] = '\0';
    ASSERT_STR_EQ(text,
                  "{\"round\":1,\"selected\":[6,0,5],\"selected_byzantine\":2,\"train_loss\":1}\n"
                  "{\"round\":2,\"train_loss\":1}\n"
                  "{\"round\":3,\"selected\":[1],\"selected_byzantine\":0}\n"
                  "{\"round\":4,\"selected\":[],\"selected_byzantine\":0}\n");
    // A second pass changes nothing.
    ASSERT_EQ_INT(byzgd_byzantine_slots_annotate(path, roles, 7, error, sizeof error), 0);
}

static const byzgd_test_case_t cases[] = {
    TEST_CASE(assign_write_read),
    TEST_CASE(annotate_adds_the_count_after_selected),
};
BYZGD_TEST_MAIN(cases)
