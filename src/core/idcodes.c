/* idcodes.c — check characters of the citizen ID number and the unified
 * social credit code (see idcodes.h). */
#include "core/idcodes.h"

#include <string.h>

bool idcode_citizen_ok(const char *s, char *expected)
{
	static const char check[] = "10X98765432";
	if (expected)
		*expected = '\0';
	if (!s || strlen(s) != 18)
		return false;
	int sum = 0, w = 1;
	/* weights 2^(17-i) mod 11, computed from the right */
	for (int i = 16; i >= 0; i--) {
		w = (w * 2) % 11;
		if (s[i] < '0' || s[i] > '9')
			return false;
		sum += (s[i] - '0') * w;
	}
	char c = check[sum % 11];
	char got = s[17] == 'x' ? 'X' : s[17];
	if (got == c)
		return true;
	if (expected && ((got >= '0' && got <= '9') || got == 'X'))
		*expected = c;
	return false;
}

bool idcode_uscc_ok(const char *s, char *expected)
{
	static const char alpha[] = "0123456789ABCDEFGHJKLMNPQRTUWXY";
	static const int w[17] = {1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28};
	if (expected)
		*expected = '\0';
	if (!s || strlen(s) != 18)
		return false;
	int sum = 0;
	for (int i = 0; i < 18; i++) {
		const char *p = strchr(alpha, s[i]);
		if (!p)
			return false;
		if (i < 17)
			sum += (int)(p - alpha) * w[i];
	}
	char c = alpha[(31 - sum % 31) % 31];
	if (s[17] == c)
		return true;
	if (expected)
		*expected = c;
	return false;
}
