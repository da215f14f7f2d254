package dev.backup.client;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Locale;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class FormatTest {
  @Test
  void sizesAreWrittenAsAFormatterWouldRoundThem() {
    assertThat(Format.size(0)).isEqualTo("0 B");
    assertThat(Format.size(1023)).isEqualTo("1023 B");
    assertThat(Format.size(1024)).isEqualTo("1.0 KiB");
    assertThat(Format.size(4096)).isEqualTo("4.0 KiB");
    assertThat(Format.size(128L << 20)).isEqualTo("128 MiB");
    assertThat(Format.size((1L << 30) - 1)).isEqualTo("1024 MiB");
    assertThat(Format.size(Long.MAX_VALUE)).isEqualTo("8192 PiB");
    // Every size, including the halves that binary fractions make hard (x.x5), as
    // String.format's "%.1f" / "%.0f" (half up on the exact value) writes it.
    SplittableRandom random = new SplittableRandom(7);
    for (int i = 0; i < 200_000; i++) {
      long bytes = i < 100_000 ? 1024 + i * 37L : 1024 + random.nextLong(Long.MAX_VALUE >> random.nextInt(1, 54));
      assertThat(Format.size(bytes)).as("%d bytes", bytes).isEqualTo(viaFormatter(bytes));
    }
  }

  private static String viaFormatter(long bytes) {
    String[] units = {"KiB", "MiB", "GiB", "TiB", "PiB"};
    double v = bytes;
    int u = -1;
    while (v >= 1024 && u < units.length - 1) {
      v /= 1024;
      u++;
    }
    return String.format(Locale.ROOT, v >= 100 ? "%.0f %s" : "%.1f %s", v, units[u]);
  }
}
