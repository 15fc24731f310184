// A function that throws through one frame, caught in main, 200 times; then 100 calls from main.
#include <stdexcept>

__attribute__ ((noinline)) void thrower (int i) { if (i >= 0) throw std::runtime_error ("x"); }
__attribute__ ((noinline)) void through (int i) { thrower (i); }
__attribute__ ((noinline)) int after (int x) { return x + 1; }

int
main ()
{
  volatile int sum = 0;
  for (int i = 0; i != 200; i++)
  {
    try { through (i); } catch (const std::exception &) { sum++; }
  }
  for (int i = 0; i != 100; i++)
    sum = after (sum);
  return sum == 300 ? 0 : 1;
}
