/* Code the SDK's own -Wall -Wextra -Werror would reject (an unused
 * function, an unused parameter): the SDK's warnings are not the guest's,
 * so this builds. */
static int unused_helper(int unused_parameter) { return 0; }
