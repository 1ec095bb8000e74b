#include <stdio.h>

int main(void) {
  printf("Hello from crossfarm!\n");
  return 0;
}
