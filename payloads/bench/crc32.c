/* crc32: IEEE 802.3 CRC-32 (reflected, poly 0xEDB88320), bytewise table and
 * slice-by-8, over a 16 MiB buffer. Dominated by: table lookups (L1 loads), shifts, xors. */
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>

#define BUF (16u << 20)

static uint32_t T[8][256];

static void init(void) {
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1)));
        T[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++)
        for (int s = 1; s < 8; s++) T[s][i] = (T[s - 1][i] >> 8) ^ T[0][T[s - 1][i] & 0xff];
}

static uint32_t crc_bytewise(uint32_t crc, const uint8_t *p, size_t n) {
    crc = ~crc;
    while (n--) crc = (crc >> 8) ^ T[0][(crc ^ *p++) & 0xff];
    return ~crc;
}

static uint32_t crc_slice8(uint32_t crc, const uint8_t *p, size_t n) {
    crc = ~crc;
    while (n >= 8) {
        uint32_t lo = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
        uint32_t hi = (uint32_t)p[4] | (uint32_t)p[5] << 8 | (uint32_t)p[6] << 16 | (uint32_t)p[7] << 24;
        lo ^= crc;
        crc = T[7][lo & 0xff] ^ T[6][(lo >> 8) & 0xff] ^ T[5][(lo >> 16) & 0xff] ^ T[4][lo >> 24] ^
              T[3][hi & 0xff] ^ T[2][(hi >> 8) & 0xff] ^ T[1][(hi >> 16) & 0xff] ^ T[0][hi >> 24];
        p += 8; n -= 8;
    }
    while (n--) crc = (crc >> 8) ^ T[0][(crc ^ *p++) & 0xff];
    return ~crc;
}

int main(int argc, char **argv) {
    int scale = argc > 1 ? atoi(argv[1]) : 1;
    if (scale < 1) scale = 1;
    init();
    if (crc_bytewise(0, (const uint8_t *)"123456789", 9) != 0xCBF43926u) { printf("CHECKSUM:selftest-failed\n"); return 1; }
    uint8_t *buf = malloc(BUF);
    uint64_t s = 88172645463325252ULL;
    for (size_t i = 0; i < BUF; i += 8) {
        s ^= s << 13; s ^= s >> 7; s ^= s << 17;
        memcpy(buf + i, &s, 8);
    }
    uint32_t acc = 0;
    for (int r = 0; r < 4 * scale; r++) {
        uint32_t a = crc_bytewise(acc, buf + r, BUF - 64);
        uint32_t b = crc_slice8(acc, buf + r, BUF - 64);
        if (a != b) { printf("CHECKSUM:mismatch\n"); return 1; }
        acc = a ^ (uint32_t)r;
        buf[(acc % (BUF - 64))] ^= (uint8_t)acc;
    }
    for (int r = 0; r < 12 * scale; r++) acc = crc_slice8(acc, buf + r, BUF - 64);
    printf("CHECKSUM:%08x\n", acc);
    free(buf);
    return 0;
}
