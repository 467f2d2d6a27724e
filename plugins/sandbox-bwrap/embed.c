/*
 * The sandbox-bwrap-init executable, embedded in the plugin so that a
 * plugin loaded from a private copy needs no file next to it.
 * SBW_INIT_PATH is set by CMakeLists.txt.
 */
__asm__(".pushsection .rodata\n"
        ".balign 16\n"
        ".globl sbw_init_start\n"
        ".hidden sbw_init_start\n"
        "sbw_init_start:\n"
        ".incbin \"" SBW_INIT_PATH "\"\n"
        ".globl sbw_init_end\n"
        ".hidden sbw_init_end\n"
        "sbw_init_end:\n"
        ".popsection\n");
