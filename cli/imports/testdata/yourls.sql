-- MySQL dump 10.13  Distrib 8.0.36, for Linux (x86_64)
--
-- Host: localhost    Database: yourls
-- ------------------------------------------------------
/*!40101 SET @OLD_CHARACTER_SET_CLIENT=@@CHARACTER_SET_CLIENT */;
/*!40101 SET NAMES utf8mb4 */;

DROP TABLE IF EXISTS `yourls_url`;
/*!40101 SET @saved_cs_client     = @@character_set_client */;
CREATE TABLE `yourls_url` (
  `keyword` varchar(100) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL DEFAULT '',
  `url` text CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
  `title` text COLLATE utf8mb4_unicode_ci,
  `timestamp` timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP,
  `ip` varchar(41) COLLATE utf8mb4_unicode_ci NOT NULL,
  `clicks` int unsigned NOT NULL,
  PRIMARY KEY (`keyword`),
  KEY `yourls_url_timestamp` (`timestamp`),
  KEY `yourls_url_ip` (`ip`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci COMMENT='links; don''t edit';
/*!40101 SET character_set_client = @saved_cs_client */;

--
-- Dumping data for table `yourls_url`
--

LOCK TABLES `yourls_url` WRITE;
/*!40000 ALTER TABLE `yourls_url` DISABLE KEYS */;
INSERT INTO `yourls_url` VALUES ('ozh','https://ozh.org/','ozh.org','2026-09-12 02:16:48','127.0.0.1',3),('yourls','https://yourls.org/','YOURLS: Your Own URL Shortener','2026-09-12 02:16:48','127.0.0.1',0),('blog','https://blog.yourls.org/','YOURLS\' Blog; \"news\"\\notes','2026-09-12 02:16:48','127.0.0.1',12);
INSERT INTO `yourls_url` VALUES ('wiki','https://en.wikipedia.org/wiki/O%27Hare',NULL,'2026-09-13 10:00:00','10.0.0.5',0),('1','ftp://old.example/file','An FTP link','2026-09-13 10:00:00','10.0.0.5',0);
/*!40000 ALTER TABLE `yourls_url` ENABLE KEYS */;
UNLOCK TABLES;

DROP TABLE IF EXISTS `yourls_log`;
CREATE TABLE `yourls_log` (`click_id` int NOT NULL AUTO_INCREMENT, `shorturl` varchar(100) NOT NULL, PRIMARY KEY (`click_id`));
INSERT INTO `yourls_log` VALUES (1,'ozh'),(2,'blog');

-- phpMyAdmin writes the columns and one row a line:
INSERT INTO `yourls_url` (`keyword`, `url`, `title`, `timestamp`, `ip`, `clicks`) VALUES
('gh', 'https://github.com/', 'GitHub', '2024-01-10 10:00:00', '192.168.1.1', 3),
('hex', 0x68747470733A2F2F6865782E6578616D706C652F, _utf8mb4'Hex ''n'' introducer', '2024-01-10 10:00:00', '192.168.1.1', '0');
