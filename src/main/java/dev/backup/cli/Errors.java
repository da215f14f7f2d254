package dev.backup.cli;

import dev.backup.protocol.BackupException;
import dev.backup.protocol.ErrorCode;
import java.util.function.BooleanSupplier;
import picocli.CommandLine;

/** One line on standard error for every failure, and a distinct exit code per kind. */
final class Errors {
  private Errors() {
  }

  static void install(CommandLine cmd, BooleanSupplier verbose) {
    // Help in colour only where other output is in colour (a terminal, no NO_COLOR).
    cmd.setColorScheme(CommandLine.Help.defaultColorScheme(
        Console.colour() ? CommandLine.Help.Ansi.ON : CommandLine.Help.Ansi.OFF));
    cmd.setParameterExceptionHandler((ex, args) -> {
      CommandLine c = ex.getCommandLine();
      c.getErr().println(Console.red("error:") + " " + ex.getMessage() + " (see '" + helpHint(c) + "')");
      c.getErr().flush();
      return ErrorCode.USAGE.exitCode();
    });
    cmd.setExecutionExceptionHandler((ex, c, parseResult) -> {
      BackupException be = BackupException.wrap(ex);
      c.getErr().println(Console.red("error:") + " " + be.getMessage());
      if (verbose.getAsBoolean()) {
        ex.printStackTrace(c.getErr());
      }
      c.getErr().flush();
      return be.code().exitCode();
    });
    cmd.setExitCodeExceptionMapper(t -> BackupException.wrap(t).code().exitCode());
  }

  private static String helpHint(CommandLine c) {
    return c.getParent() == null ? "--help" : c.getCommandName() + " --help";
  }
}
