package dev.backup.client;

import dev.backup.protocol.BackupException;
import dev.backup.protocol.ErrorCode;
import dev.backup.protocol.Names;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/** The client root: turns what the user typed into files and their names in the system. */
public final class LocalFiles {
  public record LocalFile(String name, Path path, long size) {
  }

  private final Path root;

  /** A root that is a link to a folder is taken as that folder (the names are relative to it). */
  public LocalFiles(Path root) {
    this.root = resolved(root.toAbsolutePath().normalize());
  }

  private static Path resolved(Path root) {
    if (!Files.exists(root)) {
      return root;
    }
    try {
      return root.toRealPath();
    } catch (IOException e) {
      return root;
    }
  }

  public Path root() {
    return root;
  }

  /** The name of a path typed by the user, relative to the root; refuses what leaves it. */
  public String nameOf(String typed) {
    if (typed == null || typed.isEmpty()) {
      throw new BackupException(ErrorCode.USAGE, "empty path");
    }
    String t = typed.replace('\\', '/');
    if (t.startsWith("/") || Path.of(typed).isAbsolute()) {
      throw new BackupException(ErrorCode.USAGE, "'" + Names.printable(typed)
          + "' is an absolute path; name files relative to the client root " + root);
    }
    Path resolved = root.resolve(typed).normalize();
    if (!resolved.startsWith(root)) {
      throw new BackupException(ErrorCode.USAGE, "'" + Names.printable(typed) + "' leaves the client root " + root);
    }
    if (resolved.equals(root)) {
      return "";
    }
    return name(resolved);
  }

  /** The name in the system of what the user typed for a backed-up file or folder (it need not exist here). */
  public String remoteName(String typed) {
    String n = nameOf(typed);
    if (n.isEmpty()) {
      throw new BackupException(ErrorCode.USAGE, "name a file or folder, not the whole client root");
    }
    return Names.validate(n);
  }

  /** The files a path names: itself if a file, every file below it if a folder (sorted). */
  public List<LocalFile> expand(String typed) {
    String name = nameOf(typed);
    Path p = name.isEmpty() ? root : root.resolve(name);
    if (!Files.exists(p, LinkOption.NOFOLLOW_LINKS)) {
      throw new BackupException(ErrorCode.NOT_FOUND, "no such file or folder in the client root: " + Names.printable(typed));
    }
    try {
      if (!p.toRealPath().startsWith(root.toRealPath())) {
        throw new BackupException(ErrorCode.USAGE, "'" + Names.printable(typed) + "' links outside the client root");
      }
    } catch (IOException e) {
      throw new BackupException(ErrorCode.IO, "cannot read " + p + ": " + e.getMessage());
    }
    List<LocalFile> out = new ArrayList<>();
    if (Files.isRegularFile(p)) {
      out.add(file(p));
      return out;
    }
    if (!Files.isDirectory(p)) {
      throw new BackupException(ErrorCode.USAGE, "'" + Names.printable(typed) + "' is not a regular file or folder");
    }
    try (Stream<Path> s = Files.walk(p)) {
      s.filter(x -> Files.isRegularFile(x, LinkOption.NOFOLLOW_LINKS) && !isOurs(x)).sorted().forEach(x -> out.add(file(x)));
    } catch (IOException e) {
      throw new BackupException(ErrorCode.IO, "cannot list " + p + ": " + e.getMessage());
    }
    if (out.isEmpty()) {
      throw new BackupException(ErrorCode.NOT_FOUND, "the folder '" + Names.printable(typed) + "' has no files");
    }
    return out;
  }

  /** Every file of the root, sorted by name. */
  public List<LocalFile> all() {
    if (!Files.isDirectory(root)) {
      return List.of();
    }
    List<LocalFile> out = new ArrayList<>();
    try (Stream<Path> s = Files.walk(root)) {
      s.filter(x -> Files.isRegularFile(x, LinkOption.NOFOLLOW_LINKS) && !isOurs(x)).sorted().forEach(x -> out.add(file(x)));
    } catch (IOException e) {
      throw new BackupException(ErrorCode.IO, "cannot list " + root + ": " + e.getMessage());
    }
    return out;
  }

  /**
   * The name of a path under the root: its elements joined with {@code /}, each as it is
   * (a {@code \} in a Linux file's name stays, and the system then refuses the name,
   * rather than it becoming another file's).
   */
  private String name(Path p) {
    StringBuilder sb = new StringBuilder();
    for (Path e : root.relativize(p)) {
      if (sb.length() > 0) {
        sb.append('/');
      }
      sb.append(e);
    }
    return sb.toString();
  }

  /** Files the client writes while restoring (and might leave after a crash) are never user files. */
  private static boolean isOurs(Path p) {
    return p.getFileName().toString().startsWith(".bk-");
  }

  private LocalFile file(Path p) {
    String name = name(p);
    try {
      return new LocalFile(name, p, Files.size(p));
    } catch (IOException e) {
      throw new BackupException(ErrorCode.IO, "cannot read " + p + ": " + e.getMessage());
    }
  }
}
