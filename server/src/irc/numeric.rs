//! IRC numerics by name, as RFC 2812 and modern.ircdocs.horse number
//! them: the gateway never writes a bare number.

pub const RPL_WELCOME: &str = "001";
pub const RPL_YOURHOST: &str = "002";
pub const RPL_CREATED: &str = "003";
pub const RPL_MYINFO: &str = "004";
pub const RPL_ISUPPORT: &str = "005";
pub const RPL_UMODEIS: &str = "221";
pub const RPL_WHOISUSER: &str = "311";
pub const RPL_WHOISSERVER: &str = "312";
pub const RPL_WHOISOPERATOR: &str = "313";
pub const RPL_ENDOFWHO: &str = "315";
pub const RPL_ENDOFWHOIS: &str = "318";
pub const RPL_WHOISCHANNELS: &str = "319";
pub const RPL_LISTSTART: &str = "321";
pub const RPL_LIST: &str = "322";
pub const RPL_LISTEND: &str = "323";
pub const RPL_CHANNELMODEIS: &str = "324";
pub const RPL_NOTOPIC: &str = "331";
pub const RPL_TOPIC: &str = "332";
pub const RPL_WHOREPLY: &str = "352";
pub const RPL_NAMREPLY: &str = "353";
pub const RPL_ENDOFNAMES: &str = "366";
pub const RPL_ENDOFBANLIST: &str = "368";

pub const ERR_NOSUCHNICK: &str = "401";
pub const ERR_NOSUCHCHANNEL: &str = "403";
pub const ERR_CANNOTSENDTOCHAN: &str = "404";
pub const ERR_TOOMANYCHANNELS: &str = "405";
pub const ERR_NORECIPIENT: &str = "411";
pub const ERR_NOTEXTTOSEND: &str = "412";
pub const ERR_INPUTTOOLONG: &str = "417";
pub const ERR_UNKNOWNCOMMAND: &str = "421";
pub const ERR_NOMOTD: &str = "422";
pub const ERR_NONICKNAMEGIVEN: &str = "431";
pub const ERR_ERRONEUSNICKNAME: &str = "432";
pub const ERR_NICKNAMEINUSE: &str = "433";
pub const ERR_NOTONCHANNEL: &str = "442";
pub const ERR_NOTREGISTERED: &str = "451";
pub const ERR_NEEDMOREPARAMS: &str = "461";
pub const ERR_ALREADYREGISTERED: &str = "462";
pub const ERR_PASSWDMISMATCH: &str = "464";
pub const ERR_YOUREBANNEDCREEP: &str = "465";
pub const ERR_NOPRIVILEGES: &str = "481";
pub const ERR_CHANOPRIVSNEEDED: &str = "482";
pub const ERR_USERSDONTMATCH: &str = "502";
