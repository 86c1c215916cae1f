/* SPDX-License-Identifier: MIT */
/* placeholder: being written */
extern int rs__placeholder_schools;
