package dev.backup.client;

import java.io.BufferedReader;
import java.io.BufferedWriter;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.FileTime;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What the client knows of its own files' SHA-256, so that a file backed up before and not
 * touched since is not read again to learn that it is unchanged (as restic compares with
 * its parent snapshot, and git with its index): a file's name, size, modification and
 * change times (to the nanosecond) and inode, with the SHA-256 its bytes had then. One
 * record file per client root, kept in the cache folder ({@code cache-dir}).
 *
 * <p>A record only replaces reading the file: the backup still skips it only when the
 * recorded checksum is the catalog's latest version's. Its safety rests on the change time,
 * which every write to a file moves and no user can set back. Two guards cover the clock's
 * coarseness (a write in the same tick as the last one may leave the times as they were):
 * a file is recorded only if its times did not move while it was read, and only if it had
 * not changed for {@link #SETTLED_MS} before the read began; a file changed more recently is
 * read again next time.
 *
 * <p>Best effort throughout: a missing, unreadable or damaged record file means files are
 * read, never an error; records are written to a temporary file and renamed into place.
 */
public final class LocalHashes {
  private static final Logger log = LoggerFactory.getLogger(LocalHashes.class);
  /** A file must have been left alone this long before its read began to be recorded. */
  public static final long SETTLED_MS = 2000;
  private static final String HEADER = "backup-local-hashes 1";

  /** A file's identity and times, as read from the file system. */
  public record Stat(long size, long modifiedNanos, long changedNanos, long inode) {
  }

  private record Entry(Stat stat, String sha256) {
  }

  private final Path file;
  private final Path root;
  private final Map<String, Entry> entries = new ConcurrentHashMap<>();
  /** Names looked up or recorded since loading: their entries are current. */
  private final Map<String, Boolean> seen = new ConcurrentHashMap<>();
  private volatile boolean dirty;

  private LocalHashes(Path file, Path root) {
    this.file = file;
    this.root = root;
  }

  /** No records: every lookup misses, nothing is kept. */
  public static LocalHashes none() {
    return new LocalHashes(null, null);
  }

  /**
   * The records of the client root {@code root}, kept in {@code cacheDir} (null: none);
   * loaded now (blocking: call it off the event loop).
   */
  public static LocalHashes load(Path cacheDir, Path root) {
    if (cacheDir == null) {
      return none();
    }
    Path abs = root.toAbsolutePath().normalize();
    String id = dev.backup.storage.BlobStore.sha256(abs.toString().getBytes(StandardCharsets.UTF_8)).substring(0, 24);
    LocalHashes h = new LocalHashes(cacheDir.resolve("hashes-" + id + ".tsv"), abs);
    h.read();
    return h;
  }

  /** The file's size, times and inode (blocking). */
  public static Stat stat(Path p) throws IOException {
    Map<String, Object> a = Files.readAttributes(p, "unix:size,lastModifiedTime,ctime,ino", LinkOption.NOFOLLOW_LINKS);
    return new Stat((Long) a.get("size"), nanos((FileTime) a.get("lastModifiedTime")),
        nanos((FileTime) a.get("ctime")), (Long) a.get("ino"));
  }

  private static long nanos(FileTime t) {
    return t.to(TimeUnit.NANOSECONDS);
  }

  /** A file's SHA-256 and size, and whether they came from its record (the file not read). */
  public record Known(String sha256, long size, boolean unread) {
  }

  /**
   * (blocking) The SHA-256 of the file {@code p}, backed up as {@code name}: from its record
   * if the file has not changed since, else read and hashed now (and recorded).
   */
  public Known sha256(String name, Path p) throws IOException {
    Stat before = stat(p);
    String recorded = lookup(name, before);
    if (recorded != null) {
      return new Known(recorded, before.size(), true);
    }
    long start = System.currentTimeMillis();
    String sha = dev.backup.storage.BlobStore.sha256(p);
    Stat after = stat(p);
    record(name, before, after, start, sha);
    return new Known(sha, after.size(), false);
  }

  /** The SHA-256 recorded for {@code name} with exactly this {@code stat}, else null. */
  public String lookup(String name, Stat stat) {
    if (file == null) {
      return null;
    }
    seen.put(name, Boolean.TRUE);
    Entry e = entries.get(name);
    return e != null && e.stat().equals(stat) ? e.sha256() : null;
  }

  /**
   * Records that {@code name} held bytes with this {@code sha256}, read between the stats
   * {@code before} and {@code after}, the read having begun at {@code readStartMillis}
   * (wall clock). Nothing is recorded if the file moved while it was read, or had changed
   * less than {@link #SETTLED_MS} before.
   */
  public void record(String name, Stat before, Stat after, long readStartMillis, String sha256) {
    if (file == null) {
      return;
    }
    seen.put(name, Boolean.TRUE);
    long settledBefore = TimeUnit.MILLISECONDS.toNanos(readStartMillis - SETTLED_MS);
    if (!before.equals(after) || before.changedNanos() > settledBefore || before.modifiedNanos() > settledBefore) {
      if (entries.remove(name) != null) {
        dirty = true;
      }
      return;
    }
    Entry e = new Entry(before, sha256);
    if (!e.equals(entries.put(name, e))) {
      dirty = true;
    }
  }

  int size() {
    return entries.size();
  }

  /**
   * Writes the records back if any changed (blocking). Records of files not looked at in
   * this run are kept while the file still exists under the root.
   */
  public void save() {
    if (file == null) {
      return;
    }
    entries.keySet().removeIf(name -> {
      if (seen.containsKey(name) || Files.exists(root.resolve(name), LinkOption.NOFOLLOW_LINKS)) {
        return false;
      }
      dirty = true;
      return true;
    });
    if (!dirty) {
      return;
    }
    Path tmp = file.resolveSibling(file.getFileName() + "." + ProcessHandle.current().pid() + ".tmp");
    try {
      Files.createDirectories(file.getParent());
      try (BufferedWriter w = Files.newBufferedWriter(tmp, StandardCharsets.UTF_8)) {
        w.write(HEADER + "\t" + root + "\n");
        for (Map.Entry<String, Entry> en : entries.entrySet()) {
          Stat s = en.getValue().stat();
          w.write(en.getKey() + "\t" + s.size() + "\t" + s.modifiedNanos() + "\t" + s.changedNanos() + "\t"
              + s.inode() + "\t" + en.getValue().sha256() + "\n");
        }
      }
      Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
      dirty = false;
    } catch (IOException | RuntimeException e) {
      log.debug("cannot keep the local hash records in {}: {}", file, e.toString());
      try {
        Files.deleteIfExists(tmp);
      } catch (IOException ignored) {
        // best effort
      }
    }
  }

  private void read() {
    if (!Files.isRegularFile(file)) {
      return;
    }
    try (BufferedReader r = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
      String first = r.readLine();
      if (first == null || !first.startsWith(HEADER + "\t")) {
        return;
      }
      String line;
      while ((line = r.readLine()) != null) {
        String[] f = line.split("\t", -1);
        if (f.length != 6 || f[5].length() != 64) {
          continue;
        }
        try {
          entries.put(f[0], new Entry(new Stat(Long.parseLong(f[1]), Long.parseLong(f[2]), Long.parseLong(f[3]),
              Long.parseLong(f[4])), f[5]));
        } catch (NumberFormatException bad) {
          // a damaged line: that file is read again
        }
      }
    } catch (IOException | RuntimeException e) {
      log.debug("cannot read the local hash records in {}: {}", file, e.toString());
      entries.clear();
    }
  }
}
