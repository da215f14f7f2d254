package dev.backup.cli;

import dev.backup.config.Config;
import dev.backup.config.Role;
import dev.backup.manager.Catalog;
import dev.backup.manager.Users;
import dev.backup.protocol.BackupException;
import dev.backup.protocol.ErrorCode;
import dev.backup.protocol.Names;
import dev.backup.protocol.Scram;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import java.util.function.Supplier;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * The manager's users, run on the manager's host against its root
 * ({@code --role=manager users add NAME}). A running manager sees the change within a
 * second.
 */
@Command(name = "users", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
    description = "The manager's users (run on the manager's host: --role=manager users add|list|remove).",
    subcommands = {UsersCommand.Add.class, UsersCommand.ListUsers.class, UsersCommand.Quota.class,
        UsersCommand.Remove.class})
final class UsersCommand implements Callable<Integer> {
  @Spec
  CommandSpec spec;

  private final Supplier<Config> config;

  UsersCommand(Supplier<Config> config) {
    this.config = config;
  }

  @Override
  public Integer call() {
    spec.commandLine().usage(spec.commandLine().getErr());
    return ErrorCode.USAGE.exitCode();
  }

  Users users() {
    Config c = config.get();
    if (c.role() != Role.manager) {
      throw new BackupException(ErrorCode.USAGE, "users are kept by the manager: run this on its host with "
          + "--role=manager (and its --root)");
    }
    return new Users(c.root());
  }

  Path root() {
    return config.get().root();
  }

  abstract static class Sub implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    UsersCommand parent() {
      return (UsersCommand) spec.parent().userObject();
    }
  }

  @Command(name = "add", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
      description = {"Create a user and print its secret on standard output, once: it is kept nowhere else.",
          "The first user turns sign-in on: from then on every client must give a user and its secret."})
  static final class Add extends Sub {
    @Parameters(paramLabel = "NAME", description = "1 to 32 of a-z 0-9 _ . -, starting with a letter or _")
    String name;

    @picocli.CommandLine.Option(names = "--quota", paramLabel = "BYTES",
        description = "bytes the user's files may take, every kept version counted once (default: no limit)")
    long quota;

    @Override
    public Integer call() {
      Names.validateUser(name);
      if (quota < 0) {
        throw new BackupException(ErrorCode.USAGE, "--quota is a number of bytes, 0 for none");
      }
      UsersCommand p = parent();
      Users users = p.users();
      refuseIfNamesTaken(p.root(), name);
      String secret = users.add(name, Scram.DEFAULT_ITERATIONS);
      if (quota > 0) {
        users.setQuota(name, quota);
      }
      spec.commandLine().getOut().println(secret);
      spec.commandLine().getOut().flush();
      spec.commandLine().getErr().println("created user " + name + "; its secret (above) is shown only now: put it in a "
          + "file only that user can read and give it to the client with --secret-file FILE or BACKUP_SECRET");
      return 0;
    }

    /**
     * Files of the unnamed namespace (backed up before there were users) or of a removed
     * user under {@code name/} would show up as the new user's: refuse the name.
     */
    private static void refuseIfNamesTaken(Path root, String name) {
      try {
        Catalog c = dev.backup.manager.CatalogStore.read(root);
        if (c.namesUnder(name).stream().anyMatch(n -> n.startsWith(name + "/"))) {
          throw new BackupException(ErrorCode.EXISTS, "the catalog already holds files under '" + name + "/' (backed "
              + "up before there were users, or by a removed user): choose another user name");
        }
      } catch (IOException e) {
        throw new BackupException(ErrorCode.IO, "cannot read the catalog in " + root + ": " + e.getMessage(), e);
      }
    }
  }

  @Command(name = "list", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
      description = "The users' names, one a line.")
  static final class ListUsers extends Sub {
    @Override
    public Integer call() {
      parent().users().current().keySet().forEach(spec.commandLine().getOut()::println);
      return 0;
    }
  }

  @Command(name = "quota", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
      description = "Set how many bytes a user's files may take (every kept version counted once); 0: no limit.")
  static final class Quota extends Sub {
    @Parameters(index = "0", paramLabel = "NAME")
    String name;

    @Parameters(index = "1", paramLabel = "BYTES")
    long bytes;

    @Override
    public Integer call() {
      parent().users().setQuota(name, bytes);
      spec.commandLine().getErr().println(bytes == 0 ? "user " + name + " has no quota"
          : "user " + name + " may keep " + bytes + " bytes");
      return 0;
    }
  }

  @Command(name = "remove", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
      description = "Remove a user: it can no longer sign in. Its files stay (delete them first if they should go).")
  static final class Remove extends Sub {
    @Parameters(paramLabel = "NAME")
    String name;

    @Override
    public Integer call() {
      parent().users().remove(name);
      spec.commandLine().getErr().println("removed user " + name);
      return 0;
    }
  }
}
