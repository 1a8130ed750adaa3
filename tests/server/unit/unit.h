/* The tiny test harness shared by the server's C unit tests. */
#ifndef PARLEY_TEST_UNIT_H
#define PARLEY_TEST_UNIT_H

#include <stdio.h>

extern int unit_passed;
extern int unit_failed;

#define EXPECT(cond)                                                          \
    do {                                                                      \
        if (cond) {                                                           \
            unit_passed++;                                                    \
        } else {                                                              \
            unit_failed++;                                                    \
            printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);            \
        }                                                                     \
    } while (0)

void test_jwt(void);
void test_usernames(void);
void test_names(void);
void test_ratelimit(void);
void test_b64(void);
void test_json_nul(void);
void test_relay(void);
void test_guard(void);
void test_cors(void);
void test_store(void);
void test_bus(void);

#endif
