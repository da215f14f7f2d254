package dev.backup.tools;

import dev.backup.storage.BlobStore;
import dev.backup.storage.ReplicaMeta;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * For the benchmark of a server holding many copies: puts COUNT copies of one byte each
 * (version 1 of {@code many/dN/fI}, a thousand a folder, one copy wanted) in a server's
 * root as a server lays them out, without forcing them to disk (a benchmark's setup, not
 * a server's write).
 *
 * <pre>java -cp backup.jar dev.backup.tools.ManyCopies ROOT COUNT</pre>
 */
public final class ManyCopies {
  private ManyCopies() {
  }

  public static void main(String[] args) throws IOException {
    if (args.length != 2) {
      System.err.println("usage: ManyCopies ROOT COUNT");
      System.exit(2);
    }
    BlobStore store = new BlobStore(Path.of(args[0]));
    store.open();
    int count = Integer.parseInt(args[1]);
    byte[] data = {'x'};
    String sha;
    try {
      sha = java.util.HexFormat.of().formatHex(java.security.MessageDigest.getInstance("SHA-256").digest(data));
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
    for (int i = 0; i < count; i++) {
      ReplicaMeta m = new ReplicaMeta("many/d" + i / 1000 + "/f" + i, 1, 1, sha, 1_700_000_000_000L, 1);
      Path p = store.replicaPath(m.name(), 1);
      if (i % 1000 == 0) {
        Files.createDirectories(p.getParent());
      }
      Files.write(p, data);
      Files.writeString(store.metaPath(m.name(), 1), m.toJson().encode());
    }
  }
}
