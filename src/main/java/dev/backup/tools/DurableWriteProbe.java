package dev.backup.tools;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.Random;

/**
 * The disk's durable-file limit, for the benchmark: writes COUNT files of SIZE bytes one
 * after another, each to a temporary name, forced to disk and renamed into place (what a
 * server does for every copy), and prints the files per second.
 *
 * <pre>java -cp backup.jar dev.backup.tools.DurableWriteProbe DIR COUNT SIZE</pre>
 */
public final class DurableWriteProbe {
  private DurableWriteProbe() {
  }

  public static void main(String[] args) throws IOException {
    if (args.length != 3) {
      System.err.println("usage: DurableWriteProbe DIR COUNT SIZE");
      System.exit(2);
    }
    Path dir = Path.of(args[0]);
    int count = Integer.parseInt(args[1]);
    int size = Integer.parseInt(args[2]);
    Files.createDirectories(dir);
    byte[] data = new byte[size];
    new Random(1).nextBytes(data);
    long start = System.nanoTime();
    for (int i = 0; i < count; i++) {
      Path tmp = dir.resolve("f" + i + ".tmp");
      try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
        ch.write(ByteBuffer.wrap(data));
        ch.force(true);
      }
      Files.move(tmp, dir.resolve("f" + i), StandardCopyOption.ATOMIC_MOVE);
    }
    double seconds = (System.nanoTime() - start) / 1e9;
    System.out.printf(java.util.Locale.ROOT, "%.1f%n", count / seconds);
  }
}
