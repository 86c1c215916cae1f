/* SPDX-License-Identifier: MIT */
/* ralphsup entry point: everything else lives in the core library. */
#include "ralphsup/cli/cli.h"

int main(int argc, char **argv)
{
    return rs_cli_main(argc, argv);
}
