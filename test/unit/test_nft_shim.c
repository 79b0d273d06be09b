/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The cases of test_nft.c with pkg/static/mnl.c linked into the test
 * binary: its definitions take precedence over libmnl.so's, for libnftnl's
 * calls too, so this runs libnftnl over our libmnl subset exactly as the
 * static plugin binaries do (under the sanitizers, which they lack).
 */
#include "../../pkg/static/mnl.c"
#include "test_nft.c"
