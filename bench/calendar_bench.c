/* calendar_bench — times calendar_add_workdays over 10^7 calls with random
 * (day, n) pairs, |n| <= 400, days across 2007–2026, and prints ns per call
 * against the limit of 1 µs (DESIGN: add-workdays <= 1 µs per call). Also
 * reports calendar_is_workday and calendar_add_work_minutes for reference.
 *
 *   calendar_bench [NOTICE-FILE] [CALLS]
 *
 * NOTICE-FILE defaults to data/calendar/cn-notices.txt (run from the source
 * root). The last line is "add_workdays_ns_per_call <value> PASS|FAIL".
 * A benchmark, not a test: it exits 0 whenever the measurement ran. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "core/clock.h"
#include "flow/calendar.h"

#define NINPUT (1 << 16) /* inputs cycled through; small enough to stay in cache */

static uint64_t rng_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

int main(int argc, char **argv)
{
	const char *path = argc > 1 ? argv[1] : "data/calendar/cn-notices.txt";
	long calls = argc > 2 ? strtol(argv[2], NULL, 10) : 10000000L;
	if (calls <= 0)
		calls = 10000000L;
	calendar *c = NULL;
	yz_err e = {0};
	if (calendar_from_file(path, &c, &e) != YZ_OK) {
		fprintf(stderr, "calendar_bench: %s\n", e.msg);
		return 1;
	}
	static int64_t day[NINPUT], ms[NINPUT];
	static int n[NINPUT];
	uint64_t seed = 42;
	int64_t lo = clock_days_from_civil(2007, 1, 1);
	int64_t span = clock_days_from_civil(2026, 12, 31) - lo + 1;
	for (int i = 0; i < NINPUT; i++) {
		day[i] = lo + (int64_t)(rng_next(&seed) % (uint64_t)span);
		n[i] = (int)(rng_next(&seed) % 801) - 400;
		ms[i] = day[i] * 86400000LL + (int64_t)(rng_next(&seed) % 86400000ULL);
	}
	int64_t sum = 0;
	/* warm-up */
	for (int i = 0; i < NINPUT; i++)
		sum += calendar_add_workdays(c, day[i], n[i]);

	double t0 = now_ns();
	for (long i = 0; i < calls; i++) {
		int k = (int)(i & (NINPUT - 1));
		sum += calendar_add_workdays(c, day[k], n[k]);
	}
	double add_ns = (now_ns() - t0) / (double)calls;

	t0 = now_ns();
	for (long i = 0; i < calls; i++)
		sum += calendar_is_workday(c, day[i & (NINPUT - 1)]);
	double is_ns = (now_ns() - t0) / (double)calls;

	calendar_hours h = calendar_default_hours();
	long mcalls = calls / 10 ? calls / 10 : 1;
	t0 = now_ns();
	for (long i = 0; i < mcalls; i++) {
		int k = (int)(i & (NINPUT - 1));
		sum += calendar_add_work_minutes(c, &h, ms[k], (int64_t)n[k] * 37);
	}
	double min_ns = (now_ns() - t0) / (double)mcalls;

	printf("calendar: %ld calls of add_workdays over 2007-2026, |n| <= 400 (checksum %lld)\n",
	       calls, (long long)sum);
	printf("is_workday_ns_per_call %.1f\n", is_ns);
	printf("add_work_minutes_ns_per_call %.1f\n", min_ns);
	printf("add_workdays_ns_per_call %.1f %s (limit 1000 ns)\n", add_ns,
	       add_ns <= 1000.0 ? "PASS" : "FAIL");
	calendar_free(c);
	return 0;
}
