package dev.backup.client;

import java.time.Instant;
import java.time.ZoneId;
import java.time.format.DateTimeFormatter;

/** Human-readable sizes and times. */
public final class Format {
  private static final DateTimeFormatter TIME = DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss")
      .withZone(ZoneId.systemDefault());

  private Format() {
  }

  public static String size(long bytes) {
    if (bytes < 1024) {
      return bytes + " B";
    }
    String[] units = {"KiB", "MiB", "GiB", "TiB", "PiB"};
    double v = bytes;
    int u = -1;
    while (v >= 1024 && u < units.length - 1) {
      v /= 1024;
      u++;
    }
    // (As "%.0f"/"%.1f" would round it, without a Formatter: this runs once per file
    // backed up, and a Formatter parses its pattern on every call.)
    return new java.math.BigDecimal(v).setScale(v >= 100 ? 0 : 1, java.math.RoundingMode.HALF_UP).toPlainString()
        + " " + units[u];
  }

  public static String time(long epochMillis) {
    return epochMillis <= 0 ? "-" : TIME.format(Instant.ofEpochMilli(epochMillis));
  }
}
