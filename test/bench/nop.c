/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The cheapest possible "plugin": exits at once.  `make bench` times it to
 * show the floor that process creation alone puts under every number.
 */
int main(void)
{
	return 0;
}
