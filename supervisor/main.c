/* SPDX-License-Identifier: MIT */
#include <stdio.h>
int main(void) { puts("ralphsup: placeholder"); return 0; }
