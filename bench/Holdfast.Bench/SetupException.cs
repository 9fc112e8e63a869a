namespace Holdfast.Bench;

/// <summary>The run could not be set up (server, credentials, token, seed data): the tool exits 1 with this message.</summary>
internal sealed class SetupException(string message, Exception? innerException = null) : Exception(message, innerException);
