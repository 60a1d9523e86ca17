#include "config.h"
/* PLACEHOLDER */
int
main(void)
{
	return 0;
}
