/*
 * hvbios ABI: HVB_STATIC_ASSERT, for pinning structure layouts in headers
 * compiled as C (guests, firmware) and as C++ (the host library).
 */
#ifndef HVBIOS_ABI_STATIC_ASSERT_H_
#define HVBIOS_ABI_STATIC_ASSERT_H_

#ifdef __cplusplus
#define HVB_STATIC_ASSERT static_assert
#else
#define HVB_STATIC_ASSERT _Static_assert
#endif

#endif /* HVBIOS_ABI_STATIC_ASSERT_H_ */
