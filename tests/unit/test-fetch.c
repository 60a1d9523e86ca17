#include "config.h"
#include <stdio.h>
/* PLACEHOLDER */
int
main(void)
{
	puts("Bail out! placeholder");
	return 1;
}
