/*
 * vacation.c - placeholder, replaced below.
 */
int vacation_main(int argc, char **argv);
int
vacation_main(int argc, char **argv)
{
	(void)argc, (void)argv;
	return 1;
}
