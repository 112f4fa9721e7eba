/*
 * idcodes.h — the check characters of China's identity codes, for every
 * module that receives them (iam for departments, pki for certificate
 * subjects; the codes module of the registries builds on these).
 *
 *  - GB 11643-1999 citizen ID number: 17 digits and a check character,
 *    ISO 7064 MOD 11-2 (weights 2^(17-i) mod 11; "10X98765432"[sum mod 11]).
 *  - GB 32100-2015 unified social credit code: 18 characters from the
 *    31-character alphabet 0-9 A-H J-N P-R T U W-Y (no I, O, S, V, Z),
 *    weights 3^i mod 31, check = (31 - sum mod 31) mod 31.
 *
 * Both return true when s is well formed with the right check character.
 * When only the check character is wrong, *expected (may be NULL) receives
 * the right one; otherwise it is set to '\0'.
 */
#ifndef YZ_CORE_IDCODES_H
#define YZ_CORE_IDCODES_H

#include <stdbool.h>

bool idcode_citizen_ok(const char *s, char *expected);
bool idcode_uscc_ok(const char *s, char *expected);

#endif
