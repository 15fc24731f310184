/* Instruction records: a checksum over a known buffer, a SIMD copy, and bytes read(2) fills. x86_64 and arm64. */
#if defined (__aarch64__)
# include <arm_neon.h>
#else
# include <emmintrin.h>
#endif
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* FNV-1a over 64 bytes, the state stored after every 16th byte. */
__attribute__ ((noinline)) void
checksum (const uint8_t * buf, uint32_t key, uint32_t * out)
{
  uint32_t h = key;
  for (int i = 0; i != 64; i++)
  {
    h = (h ^ buf[i]) * 16777619u;
    if (i % 16 == 15)
      out[i / 16] = h;
  }
}

__attribute__ ((noinline)) void
copy16 (void * dst, const void * src)
{
#if defined (__aarch64__)
  vst1q_u8 (dst, vld1q_u8 (src));
#else
  _mm_storeu_si128 ((__m128i *) dst, _mm_loadu_si128 ((const __m128i *) src));
#endif
}

/* Reads up to 16 bytes from fd and sums them. */
__attribute__ ((noinline)) int
consume (int fd)
{
  uint8_t buf[16];
  ssize_t n = read (fd, buf, sizeof (buf));
  int sum = 0;
  for (ssize_t i = 0; i < n; i++)
    sum += buf[i];
  return sum;
}

int
main (int argc, char ** argv)
{
  if (argc > 2 && strcmp (argv[1], "read") == 0)
  {
    int fd = open (argv[2], O_RDONLY);
    printf ("%d\n", consume (fd));
    return 0;
  }
  if (argc > 1 && strcmp (argv[1], "simd") == 0)
  {
    uint8_t src[16], dst[16];
    for (int i = 0; i != 16; i++)
      src[i] = (uint8_t) (0xa0 + i);
    copy16 (dst, src);
    printf ("%02x\n", dst[15]);
    return 0;
  }
  uint8_t buf[64];
  uint32_t out[4];
  for (int i = 0; i != 64; i++)
    buf[i] = (uint8_t) (i * 7 + 3);
  checksum (buf, 0x811c9dc5u, out);
  printf ("%08x\n", out[3]);
  return 0;
}
