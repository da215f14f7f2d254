package dev.backup.storage;

import dev.backup.protocol.BackupException;
import dev.backup.protocol.ErrorCode;
import dev.backup.protocol.Names;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/**
 * A server's replicas on disk. Layout under the root:
 * <pre>
 *   files/photos/2024/a.jpg.v3        the replica: exactly the original bytes
 *   files/photos/2024/a.jpg.v3.meta   its metadata (JSON: name, version, size, sha256, time)
 *   .bk-tmp/                          files being received; never visible as replicas
 * </pre>
 * A replica is written to {@code .bk-tmp}, checked, forced to disk and only then moved
 * into place, with its metadata first. All methods block: call them from a worker.
 */
public final class BlobStore {
  public static final String TMP = ".bk-tmp";
  public static final String FILES = "files";
  public static final String META_SUFFIX = ".meta";
  /** A .meta file is a few hundred bytes; anything far larger is not one of ours. */
  static final long MAX_META_BYTES = 64 * 1024;

  private final Path root;
  private final Path tmp;
  private final Path files;

  public BlobStore(Path root) {
    this(root, null);
  }

  /** A store whose folder forces go to {@code force} (null: to the disk): for tests. */
  BlobStore(Path root, FolderSync.Force force) {
    this.root = root.toAbsolutePath().normalize();
    this.tmp = this.root.resolve(TMP);
    this.files = this.root.resolve(FILES);
    this.folders = new FolderSync(force != null ? force : this::fsyncDir);
  }

  public Path root() {
    return root;
  }

  /** Creates the folders and removes what a crash left half-written. */
  public void open() throws IOException {
    Files.createDirectories(files);
    Files.createDirectories(tmp);
    foldersOpen = canOpenFolder(files);
    clearTemp();
  }

  /** Removes every file being received (at start, and when the server stops). */
  public void clearTemp() throws IOException {
    if (!Files.isDirectory(tmp)) {
      return;
    }
    try (DirectoryStream<Path> ds = Files.newDirectoryStream(tmp)) {
      for (Path p : ds) {
        Files.deleteIfExists(p);
      }
    }
  }

  public Path tempFile(String transferId) {
    if (!transferId.matches("[A-Za-z0-9-]{1,64}")) {
      throw new BackupException(ErrorCode.PROTOCOL, "bad transfer id");
    }
    return tmp.resolve(transferId + ".part");
  }

  public Path replicaPath(String name, long version) {
    Names.validate(name);
    Path p = files.resolve(name + ".v" + version).normalize();
    if (!p.startsWith(files)) {
      throw new BackupException(ErrorCode.USAGE, "name leaves the root");
    }
    return p;
  }

  public Path metaPath(String name, long version) {
    Path r = replicaPath(name, version);
    return r.resolveSibling(r.getFileName() + META_SUFFIX);
  }

  /**
   * Moves a received, checked and flushed temporary file into place with its metadata.
   * Both are forced to disk before the move; the folder after it.
   */
  public Path commit(Path tempFile, ReplicaMeta meta) throws IOException {
    writeMeta(tempFile, meta);
    place(tempFile, meta);
    return replicaPath(meta.name(), meta.version());
  }

  /**
   * Writes the metadata of a temporary file beside it and forces it to disk (it can run
   * while the file's own bytes are being forced).
   */
  public void writeMeta(Path tempFile, ReplicaMeta meta) throws IOException {
    try (FileChannel ch = openMeta(tempFile, meta)) {
      ch.force(true);
    }
  }

  /** Writes the metadata of a temporary file beside it, not yet forced: the caller forces the channel. */
  private FileChannel openMeta(Path tempFile, ReplicaMeta meta) throws IOException {
    Path metaTmp = tempFile.resolveSibling(tempFile.getFileName() + META_SUFFIX);
    FileChannel ch = FileChannel.open(metaTmp, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
        StandardOpenOption.TRUNCATE_EXISTING);
    try {
      java.nio.ByteBuffer b = java.nio.ByteBuffer.wrap(meta.toJson().encodePrettily().getBytes(StandardCharsets.UTF_8));
      while (b.hasRemaining()) {
        ch.write(b);
      }
      return ch;
    } catch (IOException | RuntimeException e) {
      ch.close();
      throw e;
    }
  }

  /**
   * Moves a temporary file and its metadata (both already on disk) into place, then forces
   * the folder. Returns whether a copy of that version was there (and is replaced).
   */
  public boolean place(Path tempFile, ReplicaMeta meta) throws IOException {
    Path target = replicaPath(meta.name(), meta.version());
    Path metaTarget = metaPath(meta.name(), meta.version());
    Path metaTmp = tempFile.resolveSibling(tempFile.getFileName() + META_SUFFIX);
    List<Path> made = new ArrayList<>();
    boolean existed = underLock(meta.name(), meta.version(), () -> {
      boolean there = Files.exists(target);
      for (int attempt = 1; ; attempt++) {
        try {
          made.addAll(createFolders(target.getParent()));
          if (Files.isDirectory(target) || Files.isDirectory(metaTarget)) {
            throw new BackupException(ErrorCode.EXISTS, "a folder is in the way of " + target);
          }
          move(metaTmp, metaTarget);
          break;
        } catch (NoSuchFileException e) {
          // The folder was removed as empty (the last copy in it deleted) after it was made:
          // made again. (The temporary file itself is never taken away while it is placed.)
          if (attempt == 3 || !Files.exists(metaTmp)) {
            throw e;
          }
        }
      }
      move(tempFile, target);
      return there;
    });
    folders.sync(target.getParent());
    // A folder made for it is an entry in its parent, forced too (innermost first).
    for (Path dir : made) {
      folders.sync(dir.getParent());
    }
    return existed;
  }

  /**
   * Makes {@code dir} and the folders above it that are missing; returns those that were
   * missing, innermost first (another thread may have made some meanwhile: they are
   * forced all the same).
   */
  private static List<Path> createFolders(Path dir) throws IOException {
    List<Path> missing = new ArrayList<>();
    for (Path d = dir; d != null && !Files.isDirectory(d); d = d.getParent()) {
      missing.add(d);
    }
    if (!missing.isEmpty()) {
      Files.createDirectories(dir);
    }
    return missing;
  }

  /**
   * Removes the copy of {@code name} v{@code version} (its metadata first), if it is still
   * the one with checksum {@code sha256} and time {@code created} (when these are given:
   * not one a later transfer of that version put in its place meanwhile). Returns the
   * removed copy's size, or -1 if none was removed.
   */
  public long remove(String name, long version, String sha256, Long created) throws IOException {
    Path replica = replicaPath(name, version);
    return underLock(name, version, () -> {
      if (created != null) {
        ReplicaMeta m;
        try {
          m = readMeta(name, version);
        } catch (IOException | RuntimeException e) {
          return -1L; // gone already, or its metadata unreadable: nothing to remove on this word
        }
        if (!java.util.Objects.equals(m.sha256(), sha256) || m.createdMillis() != created) {
          return -1L;
        }
      }
      long size = Files.exists(replica) ? Files.size(replica) : -1;
      Files.deleteIfExists(metaPath(name, version));
      return Files.deleteIfExists(replica) ? size : -1L;
    });
  }

  /** Where damaged copies that were a version's last are kept for salvage (outside the copies' folder). */
  public static final String DAMAGED = "damaged";

  /**
   * Moves the copy of {@code name} v{@code version} (its bytes, then its metadata) out of
   * the copies held, to {@code damaged/<name>.v<version>} under the root, replacing what an
   * earlier one left there. Returns its size, or -1 if there was none.
   */
  public long setAside(String name, long version) throws IOException {
    Path replica = replicaPath(name, version);
    Path meta = metaPath(name, version);
    Path aside = root.resolve(DAMAGED).resolve(files.relativize(replica));
    List<Path> made = new ArrayList<>();
    long size = underLock(name, version, () -> {
      if (!Files.isRegularFile(replica, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
        return -1L;
      }
      long bytes = Files.size(replica);
      made.addAll(createFolders(aside.getParent()));
      move(replica, aside);
      if (Files.exists(meta, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
        move(meta, aside.resolveSibling(aside.getFileName() + META_SUFFIX));
      }
      return bytes;
    });
    if (size >= 0) {
      // Durable where it went (its folder, and each folder made for it in its parent), and
      // gone from where it was: a crash must neither lose the salvage copy nor bring the
      // damaged copy back among the copies held.
      folders.sync(aside.getParent());
      for (Path dir : made) {
        folders.sync(dir.getParent());
      }
      folders.sync(replica.getParent());
    }
    return size;
  }

  /** How many copies are set aside under {@code damaged/} (their bytes; metadata not counted). */
  public int countAside() throws IOException {
    Path d = root.resolve(DAMAGED);
    if (!Files.isDirectory(d, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
      return 0;
    }
    try (java.util.stream.Stream<Path> s = Files.walk(d)) {
      return (int) s.filter(p -> Files.isRegularFile(p, java.nio.file.LinkOption.NOFOLLOW_LINKS)
          && !p.getFileName().toString().endsWith(META_SUFFIX)).count();
    }
  }

  /**
   * One lock per copy (by stripes): the changes to a copy that first look at what is there
   * (placing, removing only if still the same copy, rewriting metadata) run one at a time,
   * so that none acts on what another has just changed.
   */
  private final java.util.concurrent.locks.ReentrantLock[] stripes = new java.util.concurrent.locks.ReentrantLock[64];

  {
    for (int i = 0; i < stripes.length; i++) {
      stripes[i] = new java.util.concurrent.locks.ReentrantLock();
    }
  }

  /** Work on one copy's files, done under its lock. */
  private interface Locked<T> {
    T run() throws IOException;
  }

  private <T> T underLock(String name, long version, Locked<T> work) throws IOException {
    java.util.concurrent.locks.Lock lock = stripes[Math.floorMod(name.hashCode() * 31 + Long.hashCode(version),
        stripes.length)];
    lock.lock();
    try {
      return work.run();
    } finally {
      lock.unlock();
    }
  }

  /**
   * Writes {@code meta} over the metadata of the copy it names (whose bytes are right but
   * whose metadata was damaged), if that metadata is still {@code was} ({@code null}: if it
   * is still missing or unreadable, beside bytes of the size {@code meta} gives): written
   * beside it, forced, moved over it and the folder forced. Returns whether it was rewritten.
   */
  public boolean repairMeta(ReplicaMeta was, ReplicaMeta meta) throws IOException {
    Path metaTarget = metaPath(meta.name(), meta.version());
    Path tmp = tempFile(java.util.UUID.randomUUID().toString());
    Path metaTmp = tmp.resolveSibling(tmp.getFileName() + META_SUFFIX);
    boolean rewritten;
    try {
      writeMeta(tmp, meta); // (written and forced before the lock is taken)
      // (Looked at and replaced under the copy's lock: no removal or placing of it in between.)
      rewritten = underLock(meta.name(), meta.version(), () -> {
        if (was == null ? !unreadable(meta) : !readMeta(meta.name(), meta.version()).equals(was)) {
          return false;
        }
        move(metaTmp, metaTarget);
        return true;
      });
    } finally {
      deleteQuietly(tmp);
    }
    if (rewritten) {
      folders.sync(metaTarget.getParent());
    }
    return rewritten;
  }

  /** Whether the copy {@code meta} names is here, of its size, with its metadata missing or unreadable. */
  private boolean unreadable(ReplicaMeta meta) throws IOException {
    Path replica = replicaPath(meta.name(), meta.version());
    if (!Files.isRegularFile(replica, java.nio.file.LinkOption.NOFOLLOW_LINKS) || Files.size(replica) != meta.size()) {
      return false;
    }
    try {
      readMeta(meta.name(), meta.version());
      return false;
    } catch (BackupException e) {
      return e.code() == ErrorCode.INTEGRITY || e.code() == ErrorCode.NOT_FOUND;
    } catch (IOException e) {
      return true; // the disk cannot read it: written anew beside it and moved over it
    }
  }

  private static void move(Path from, Path to) throws IOException {
    try {
      Files.move(from, to, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    } catch (AtomicMoveNotSupportedException e) {
      Files.move(from, to, StandardCopyOption.REPLACE_EXISTING);
    }
  }

  /**
   * Whether this platform lets a folder be opened to be forced (found once, by {@link #open}).
   * Where it does not, the files themselves are forced and folder forces do nothing.
   */
  private volatile boolean foldersOpen = true;

  /**
   * Forces a folder (its entries: the moves made in it) to disk, unless this platform
   * cannot open folders (see {@link #foldersOpen}). A folder that cannot be opened here
   * (too many open files, say) or a force that fails is an error: the copies waiting on
   * it are not durable.
   */
  void fsyncDir(Path dir) throws IOException {
    if (!foldersOpen) {
      return;
    }
    try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
      ch.force(true);
    }
  }

  /** Whether a folder can be opened (and forced) on this platform, tried on {@code dir}. */
  public static boolean canOpenFolder(Path dir) throws IOException {
    FileChannel ch;
    try {
      ch = FileChannel.open(dir, StandardOpenOption.READ);
    } catch (IOException | UnsupportedOperationException cannotOpen) {
      return false;
    }
    try (ch) {
      ch.force(true); // (a force that fails is an error, not a platform that cannot)
      return true;
    }
  }

  /** Forces folders to disk, one force serving every move made in a folder before it began. */
  private final FolderSync folders;

  public void deleteQuietly(Path p) {
    try {
      Files.deleteIfExists(p);
      Path meta = p.resolveSibling(p.getFileName() + META_SUFFIX);
      if (p.startsWith(tmp)) {
        Files.deleteIfExists(meta);
      }
    } catch (IOException ignored) {
      // best effort: open() clears the temp folder at the next start
    }
  }

  /** Every replica whose metadata is readable. */
  public List<ReplicaMeta> inventory() throws IOException {
    return listCopies().copies();
  }

  /**
   * A copy whose bytes are here but whose metadata is missing or no longer parses: named
   * by its path ({@code size}: its bytes' length). Its bytes may well be right, and may be
   * the file's only copy: it is checked, not taken for lost.
   */
  public record Unreadable(String name, long version, long size) {
  }

  /** What {@link #listCopies} found: the copies with readable metadata, and those without. */
  public record Listing(List<ReplicaMeta> copies, List<Unreadable> unreadable) {
  }

  private static final java.util.regex.Pattern REPLICA_NAME = java.util.regex.Pattern.compile("(.+)\\.v(\\d{1,18})");

  /** Every replica held here, in one walk of the folders, all in memory (see {@link Unreadable}): for tests. */
  public Listing listCopies() throws IOException {
    List<ReplicaMeta> out = new ArrayList<>();
    List<Unreadable> unreadable = new ArrayList<>();
    try (Cursor c = cursor()) {
      Page page;
      do {
        page = c.next(LISTING_BATCH);
        out.addAll(page.copies());
        unreadable.addAll(page.unreadable());
      } while (!page.end());
    }
    return new Listing(out, unreadable);
  }

  private static final int LISTING_BATCH = 1_000;

  /** Some copies of a {@link Cursor}'s walk; {@code end} once the walk has found them all. */
  public record Page(List<ReplicaMeta> copies, List<Unreadable> unreadable, boolean end) {
    public int size() {
      return copies.size() + unreadable.size();
    }
  }

  /** A walk through the copies held here that reads them as they are asked for (see {@link Cursor}). */
  public Cursor cursor() throws IOException {
    return new Cursor();
  }

  /**
   * A walk through the folders that reads the copies' metadata only as they are asked
   * for, a page at a time: a server may hold many millions of copies, and only the page
   * asked for is ever in memory (with one open folder per level of the path being walked).
   * A copy put in place or removed while the walk goes on may or may not be found, as
   * with any listing of a folder that changes. One caller at a time (calls may come from
   * different threads, one after another); {@link #close} may come from any thread (it
   * waits for a page being read) and ends the walk: the next page fails.
   */
  public final class Cursor implements AutoCloseable {
    private final java.util.ArrayDeque<DirectoryStream<Path>> open = new java.util.ArrayDeque<>();
    private final java.util.ArrayDeque<java.util.Iterator<Path>> walking = new java.util.ArrayDeque<>();
    private boolean closed;

    private Cursor() throws IOException {
      if (Files.isDirectory(files, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
        enter(files);
      }
    }

    /**
     * Up to {@code max} more copies, readable or not (fewer, and {@code end}, at the end of
     * the walk). Fails once the cursor is closed: a walk cut short never looks ended.
     */
    public synchronized Page next(int max) throws IOException {
      List<ReplicaMeta> copies = new ArrayList<>();
      List<Unreadable> unreadable = new ArrayList<>();
      while (copies.size() + unreadable.size() < max) {
        Path p = nextFile();
        if (closed) {
          throw new IOException("the walk through the copies was ended");
        }
        if (p == null) {
          return new Page(copies, unreadable, true);
        }
        judge(p, copies, unreadable);
      }
      return new Page(copies, unreadable, false);
    }

    /** The next regular file of the walk (folders first entered, depth first), or null at its end. */
    private Path nextFile() throws IOException {
      while (!walking.isEmpty()) {
        java.util.Iterator<Path> it = walking.peek();
        boolean more;
        try {
          more = it.hasNext();
        } catch (java.nio.file.DirectoryIteratorException e) {
          throw e.getCause();
        }
        if (!more) {
          walking.pop();
          open.pop().close();
          continue;
        }
        Path p = it.next();
        java.nio.file.attribute.BasicFileAttributes a;
        try {
          a = Files.readAttributes(p, java.nio.file.attribute.BasicFileAttributes.class,
              java.nio.file.LinkOption.NOFOLLOW_LINKS);
        } catch (NoSuchFileException e) {
          continue; // removed meanwhile
        }
        if (a.isDirectory()) {
          enter(p);
        } else if (a.isRegularFile()) {
          return p;
        }
      }
      return null;
    }

    private void enter(Path dir) throws IOException {
      DirectoryStream<Path> ds;
      try {
        ds = Files.newDirectoryStream(dir);
      } catch (NoSuchFileException e) {
        return; // removed while the folders were walked
      }
      open.push(ds);
      walking.push(ds.iterator());
    }

    @Override
    public synchronized void close() {
      closed = true;
      for (DirectoryStream<Path> ds : open) {
        try {
          ds.close();
        } catch (IOException ignored) {
          // nothing held but the handle
        }
      }
      open.clear();
      walking.clear();
    }
  }

  /** Sorts the regular file {@code p} into {@code out} (a copy whose metadata reads) or {@code unreadable}. */
  private void judge(Path p, List<ReplicaMeta> out, List<Unreadable> unreadable) {
    String fileName = p.getFileName().toString();
    if (!fileName.endsWith(META_SUFFIX)) {
      // A replica whose metadata is gone (a copy's metadata goes into place before it).
      if (!Files.exists(p.resolveSibling(fileName + META_SUFFIX), java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
        addUnreadable(p, unreadable);
      }
      return;
    }
    Path replica = p.resolveSibling(fileName.substring(0, fileName.length() - META_SUFFIX.length()));
    try {
      ReplicaMeta m = ReplicaMeta.fromJson(readMetaFile(p));
      if (!replicaPath(m.name(), m.version()).equals(replica)) {
        // It parses, but names another copy than the one beside it (a rotted name or version).
        addUnreadable(replica, unreadable);
      } else if (Files.isRegularFile(replica, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
        out.add(m);
      }
    } catch (NoSuchFileException e) {
      // removed meanwhile
    } catch (IOException | RuntimeException e) {
      // A torn or rotted metadata file, or one the disk cannot read: the copy beside it,
      // if any, is named by its path (skipped, it would count as lost).
      addUnreadable(replica, unreadable);
    }
  }

  /** Adds the replica at {@code p} to {@code into} if it is one: a regular file named as a replica is. */
  private void addUnreadable(Path p, List<Unreadable> into) {
    java.util.regex.Matcher m = REPLICA_NAME.matcher(files.relativize(p).toString().replace('\\', '/'));
    if (!m.matches() || !Files.isRegularFile(p, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
      return;
    }
    try {
      String name = m.group(1);
      long version = Long.parseLong(m.group(2));
      if (replicaPath(name, version).equals(p)) {
        into.add(new Unreadable(name, version, Files.size(p)));
      }
    } catch (IOException | RuntimeException e) {
      // not a name this store would give a replica, or gone meanwhile
    }
  }

  /** The metadata of a stored copy; NOT_FOUND when there is no such copy. */
  public ReplicaMeta readMeta(String name, long version) throws IOException {
    Path meta = metaPath(name, version);
    Path replica = replicaPath(name, version);
    if (!Files.isRegularFile(meta) || !Files.isRegularFile(replica)) {
      throw new BackupException(ErrorCode.NOT_FOUND, "no copy of " + name + " v" + version + " here");
    }
    ReplicaMeta m;
    try {
      m = ReplicaMeta.fromJson(readMetaFile(meta));
    } catch (RuntimeException e) {
      m = null;
    }
    if (m == null || !name.equals(m.name()) || m.version() != version) {
      throw new BackupException(ErrorCode.INTEGRITY, "metadata of " + name + " v" + version + " is damaged");
    }
    return m;
  }

  /**
   * Re-reads a copy and compares it with the expected SHA-256: "ok", "bad" (bytes differ)
   * or "missing".
   */
  public String check(String name, long version, String sha256) throws IOException {
    String actual = actualSha256(name, version);
    return actual == null ? "missing" : actual.equals(sha256) ? "ok" : "bad";
  }

  /** The SHA-256 the bytes of the copy of {@code name} v{@code version} have now; null if there is none (blocking). */
  public String actualSha256(String name, long version) throws IOException {
    Path replica = replicaPath(name, version);
    return Files.isRegularFile(replica) ? sha256(replica) : null;
  }

  /** The SHA-256 of bytes in memory, as lower-case hex. */
  public static String sha256(byte[] bytes) {
    try {
      return java.util.HexFormat.of().formatHex(java.security.MessageDigest.getInstance("SHA-256").digest(bytes));
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  /**
   * Stores a small copy received whole in memory in one go: checked against the sender's
   * SHA-256, written to its temporary name and its metadata beside it, both forced (the
   * second force finds little left to do when the first has committed the file system's
   * journal), both moved into place and the folder forced. Returns whether a copy was
   * already there.
   */
  public boolean storeWhole(Path tempFile, byte[] bytes, String senderSha, ReplicaMeta meta) throws IOException {
    if (bytes.length != meta.size() || !sha256(bytes).equals(senderSha)) {
      throw new BackupException(ErrorCode.INTEGRITY, "received bytes do not match the sender's checksum ("
          + bytes.length + " of " + meta.size() + " bytes)");
    }
    try (FileChannel ch = FileChannel.open(tempFile, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
      java.nio.ByteBuffer b = java.nio.ByteBuffer.wrap(bytes);
      while (b.hasRemaining()) {
        ch.write(b);
      }
      try (FileChannel metaCh = openMeta(tempFile, meta)) {
        ch.force(true);
        metaCh.force(true);
      }
    }
    return place(tempFile, meta);
  }

  /**
   * One read buffer per thread for {@link #sha256(Path)}: a direct buffer allocated per
   * file is freed only by the collector, and with a small heap the direct-memory limit is
   * soon reached, where the JDK calls a full (stop-the-world) collection to get it back.
   */
  private static final ThreadLocal<java.nio.ByteBuffer> HASH_BUFFER =
      ThreadLocal.withInitial(() -> java.nio.ByteBuffer.allocateDirect(1 << 20));

  /** SHA-256 of a file, read in 1 MiB blocks. Blocking: call it from a worker. */
  public static String sha256(Path file) throws IOException {
    java.security.MessageDigest md;
    try {
      md = java.security.MessageDigest.getInstance("SHA-256");
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
    java.nio.ByteBuffer buf = HASH_BUFFER.get();
    buf.clear();
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
      while (ch.read(buf) >= 0) {
        buf.flip();
        md.update(buf);
        buf.clear();
      }
    }
    return java.util.HexFormat.of().formatHex(md.digest());
  }

  /** Removes empty folders from {@code dir} up to (not including) the files folder. */
  public void pruneEmptyFolders(Path dir) {
    Path d = dir;
    while (d != null && d.startsWith(files) && !d.equals(files)) {
      try {
        Files.delete(d);
      } catch (IOException e) {
        return;
      }
      d = d.getParent();
    }
  }

  private static JsonObject readMetaFile(Path meta) throws IOException {
    if (Files.size(meta) > MAX_META_BYTES) {
      throw new BackupException(ErrorCode.INTEGRITY, "not a replica's metadata: " + meta);
    }
    try {
      return new JsonObject(Files.readString(meta));
    } catch (java.nio.charset.CharacterCodingException e) {
      // Rotted bytes that are not even text: as damaged as torn JSON (not a failure to read).
      throw new BackupException(ErrorCode.INTEGRITY, "not a replica's metadata: " + meta);
    }
  }

  public long freeBytes() {
    try {
      return Files.getFileStore(root).getUsableSpace();
    } catch (IOException e) {
      return 0;
    }
  }

  /** Number of files in the temporary folder (for tests and health). */
  public long tempCount() throws IOException {
    try (Stream<Path> s = Files.list(tmp)) {
      return s.count();
    }
  }


}
