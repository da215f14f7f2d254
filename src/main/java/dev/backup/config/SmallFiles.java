package dev.backup.config;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.Charset;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Reads a small text file (a key, a certificate, the users file) whole, but never more
 * than a bound: a path pointed by mistake at something large fails instead of filling
 * the memory.
 */
public final class SmallFiles {
  private SmallFiles() {
  }

  /** The file's text; an {@link IOException} when it is larger than {@code maxBytes}. */
  public static String read(Path file, long maxBytes, Charset charset) throws IOException {
    try (InputStream in = Files.newInputStream(file)) {
      byte[] b = in.readNBytes((int) Math.min(Integer.MAX_VALUE - 8, maxBytes + 1));
      if (b.length > maxBytes) {
        throw new IOException("larger than " + maxBytes + " bytes");
      }
      return new String(b, charset);
    }
  }
}
