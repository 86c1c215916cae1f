/* SPDX-License-Identifier: MIT */
/* ralphsup entry point: everything else lives in the layer libraries (supervisor/meson.build). */
#include "ralphsup/cli/cli.h"

int main(int argc, char **argv)
{
    return rs_cli_main(argc, argv);
}
